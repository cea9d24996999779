"""entrypoint.py run as the GitHub runner runs the container action, with `comment: true`,
against the embedded emulator and the fake GitHub API: the comment is made, then updated;
whatever GitHub answers, the decision, the outputs and the exit code are those of the
same run without a comment, and the token is nowhere in what the step leaves behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mini_workspace import CLIENT_ID, CLIENT_SECRET, StepRun, make_workspace, run_step
from runner_commands import Runner

from .conftest import REPOSITORY, pull_request_env
from .fake_github import TOKEN, FakeGitHub

pytest.importorskip("werkzeug")  # the emulator extra
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator

# What differs between two runs of the same config, and is no part of the decision.
_PER_RUN = {"training-id", "version-id", "audit-hash", "metrics", "f1", "precision", "recall"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "workspace")


@pytest.fixture
def emulator(workspace: Path) -> Iterator[Emulator]:
    with Emulator.from_config(
        workspace / "training-config.yaml",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        training_seconds=0.3,
    ) as running:
        yield running


def step(
    workspace: Path, emulator: Emulator, github: FakeGitHub, name: str, **inputs: str
) -> StepRun:
    head = inputs.pop("head", REPOSITORY)
    given = {
        "base-url": emulator.base_url,
        "client-id": CLIENT_ID,
        "client-secret": CLIENT_SECRET,
        "comment": "true",
        "github-token": TOKEN,
    }
    given.update(inputs)
    runner = workspace.parent / name
    env = pull_request_env(runner / "event", github.url, head=head)
    env["GITHUB_RUN_ID"] = "4242"
    return run_step(workspace, runner, env, **given)


def assert_token_hidden(run: StepRun) -> None:
    assert TOKEN not in run.everything()
    masks = [line for line in run.stdout.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{TOKEN}" in masks
    first_other = next(
        index
        for index, line in enumerate(run.stdout.splitlines())
        if not line.startswith("::add-mask::")
    )
    assert run.stdout.splitlines().index(f"::add-mask::{TOKEN}") < first_other
    assert "Traceback" not in run.stderr


def comment_annotations(run: StepRun) -> list[str]:
    return [
        f"{command.name}: {command.data}"
        for command in Runner().feed(run.stdout)
        if command.properties.get("title") == "ci-trainer: pull request comment"
    ]


def test_a_pull_request_run_comments_then_updates_in_place(
    workspace: Path, emulator: Emulator, github: FakeGitHub
) -> None:
    first = step(workspace, emulator, github, "first")
    assert first.exit_code == 0, first.stdout + first.stderr
    assert first.outputs["decision"] == "approved"
    [comment] = github.on(REPOSITORY, 7)
    assert comment.body.startswith("<!-- ci-trainer pr-comment config=training-config.yaml -->")
    assert "### ✅ ci-trainer: Approved · model shop-nlu" in comment.body
    assert f"(https://github.com/{REPOSITORY}/actions/runs/4242/attempts/1)" in comment.body
    assert "pull request comment: created on #7" in first.stdout
    assert comment_annotations(first) == []
    assert_token_hidden(first)

    second = step(workspace, emulator, github, "second", **{"fail-on-reject": "false"})
    assert second.exit_code == 0
    assert [c.id for c in github.on(REPOSITORY, 7)] == [comment.id]  # updated, not added
    assert "pull request comment: updated on #7" in second.stdout
    assert [call.method for call in github.calls()] == ["GET", "POST", "GET", "PATCH"]
    assert_token_hidden(second)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"status": 403, "message": "Resource not accessible by integration"}, "notice"),
        ({"status": 429, "message": "rate limit", "headers": {"Retry-After": "600"}}, "notice"),
        ({"status": 500, "message": "Server Error"}, "warning"),
    ],
    ids=["fork-403", "429-too-long", "5xx"],
)
def test_what_github_refuses_never_changes_the_run(
    workspace: Path,
    emulator: Emulator,
    github: FakeGitHub,
    fault: dict[str, object],
    kind: str,
) -> None:
    (workspace / "training-config.yaml").write_text(
        (workspace / "training-config.yaml")
        .read_text(encoding="utf-8")
        .replace("min_f1: 0.5", "min_f1: 0.999"),
        encoding="utf-8",
    )
    plain = step(workspace, emulator, github, "plain", comment="false")
    assert github.calls() == []
    github.fail(times=5, **fault)  # type: ignore[arg-type]
    run = step(workspace, emulator, github, "refused", head="someone/fork")
    assert (plain.exit_code, run.exit_code) == (1, 1)
    assert run.outputs["decision"] == plain.outputs["decision"] == "rejected"
    same = {k: v for k, v in run.outputs.items() if k not in _PER_RUN | {"audit-log"}}
    assert same == {k: v for k, v in plain.outputs.items() if k not in _PER_RUN | {"audit-log"}}
    [said] = comment_annotations(run)
    assert said.startswith(f"{kind}: could not ")
    assert said.endswith("The run's decision and exit code are unchanged.")
    assert github.on(REPOSITORY, 7) == []
    assert_token_hidden(run)

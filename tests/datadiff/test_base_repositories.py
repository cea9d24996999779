"""The base read through git, on constructed repositories: a base commit on main and a
pull request's commit on a branch (then clones of them: shallow, partial, another uid's)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ci_trainer.base_data import base_request
from ci_trainer.config import load_config
from ci_trainer.data_diff_types import DataDiff, FileDiff
from ci_trainer.datasets import load_dataset
from ci_trainer.pipeline.base_stage import diff_against_base
from ci_trainer.report.data_diff import data_diff_section

from .git_repos import (
    DATASET,
    HOLDOUT,
    base_and_pull_request,
    edit_yaml,
    git,
    needs_git,
    shallow_clone,
)

pytestmark = needs_git


@pytest.fixture(autouse=True)
def _no_ci_around(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GIT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    # The user's own config must never be needed, nor written.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()


def data_diff(
    project: Path, base: str | None = "main", env: Mapping[str, str] | None = None
) -> DataDiff:
    loaded = load_config(project / "training-config.yaml")
    local = {
        ref.id: load_dataset(loaded.resolve(ref.path)) for ref in loaded.config.datasets if ref.path
    }
    holdout = loaded.config.holdout
    held = load_dataset(loaded.resolve(holdout.path)) if holdout else None
    request = base_request(base, env or {})
    assert request is not None
    return diff_against_base(loaded, local, held, request)


def customer_service(diff: DataDiff) -> FileDiff:
    [file] = [f for f in diff.datasets if f.path == DATASET]
    return file


def pull_request_change(project: Path) -> None:
    """Examples added and removed, one moved, one intent renamed, one added; the holdout
    gets one utterance more."""

    def change(data: dict[str, Any]) -> None:
        data["return_item"] += ["I want to send the boots back", "return label please"]
        moved = data["cancel_order"].pop()
        data["refund_delay"] = [
            moved,
            "my refund is taking ages",
            "refund still not arrived after a month",
        ]
        del data["cancel_order"][:3]
        data["order_status"] = data.pop("track_order")

    edit_yaml(project, DATASET, change)
    edit_yaml(project, HOLDOUT, lambda d: d["return_item"].append("take back this lamp"))


def test_added_removed_renamed_and_moved_examples_against_the_merge_base(tmp_path: Path) -> None:
    project = tmp_path / "project"
    base, _ = base_and_pull_request(project, pull_request_change)
    diff = data_diff(project)
    assert diff.unavailable is None
    assert (diff.resolved_ref, diff.base_commit, diff.requested_by) == ("main", base, "--base")
    file = customer_service(diff)
    intents = {i.intent: i for i in file.intents}
    assert intents["return_item"].added_count == 2
    assert intents["cancel_order"].removed_count == 3
    assert intents["cancel_order"].moved_out_count == 1
    refund = intents["refund_delay"]
    assert (refund.change, refund.added_count, refund.moved_in_count) == ("added", 2, 1)
    assert refund.moved_in[0].from_intent == "cancel_order"
    renamed = intents["order_status"]
    assert (renamed.change, renamed.renamed_from) == ("renamed", "track_order")
    assert renamed.changed_examples == 0
    assert (file.intents_added_count, file.intents_renamed_count) == (1, 1)
    assert file.intents_removed_count == 0
    assert file.base_sha256 != file.head_sha256
    [smalltalk] = [f for f in diff.datasets if f.dataset_id == "ds-smalltalk"]
    assert not smalltalk.differs  # the CSV, read at the base by its own reader


def test_a_changed_holdout_is_reported_on_its_own(tmp_path: Path) -> None:
    project = tmp_path / "project"
    base_and_pull_request(project, pull_request_change)
    diff = data_diff(project)
    assert diff.holdout is not None
    assert diff.holdout.dataset_id is None
    assert diff.holdout.examples_added_count == 1
    assert [i.intent for i in diff.holdout.intents] == ["return_item"]
    section = data_diff_section(diff, {})
    assert section is not None
    assert "The holdout datasets/holdout.yaml changed since the base" in section
    assert "changes what the comparison means" in section


def test_the_merge_base_not_the_base_branchs_tip(tmp_path: Path) -> None:
    """main moved on after the branch was made: the diff is the pull request's alone."""
    project = tmp_path / "project"
    base, _ = base_and_pull_request(project, pull_request_change)
    git(project, "checkout", "-q", "main")
    edit_yaml(project, DATASET, lambda d: d.update(gift_wrapping=["wrap it as a gift"]))
    git(project, "commit", "-q", "-am", "main moves on")
    git(project, "checkout", "-q", "feature")
    diff = data_diff(project)
    assert diff.base_commit == base
    assert "gift_wrapping" not in {i.intent for i in customer_service(diff).intents}


def test_github_base_ref_on_a_pull_request_run_uses_origin(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    base, _ = base_and_pull_request(origin, pull_request_change)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "feature", f"file://{origin}", str(clone))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}
    diff = data_diff(clone, base=None, env=env)
    assert (diff.base_ref, diff.resolved_ref) == ("main", "origin/main")
    assert (diff.requested_by, diff.base_commit) == ("GITHUB_BASE_REF", base)
    assert customer_service(diff).intents_renamed_count == 1


def test_no_base_asked_for_means_no_diff() -> None:
    assert base_request(None, {}) is None
    assert base_request("", {"GITHUB_BASE_REF": ""}) is None
    assert base_request("release", {"GITHUB_BASE_REF": "main"}).candidates == ("release",)  # type: ignore[union-attr]


def test_a_shallow_clone_gives_the_one_line_why_and_how(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    base_and_pull_request(origin, pull_request_change)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", "--branch", "feature",
        f"file://{origin}", str(clone))  # fmt: skip
    diff = data_diff(clone, base=None, env={"GITHUB_BASE_REF": "main"})
    assert diff.base_commit is None and diff.datasets == []
    assert diff.unavailable is not None and "shallow clone" in diff.unavailable
    assert diff.hint is not None and "fetch-depth: 0" in diff.hint
    section = data_diff_section(diff, {})
    assert section is not None
    body = section.split("\n\n", 1)[1]
    assert "\n" not in body
    assert body.startswith("No data diff against main: this is a shallow clone")
    assert "To get it: set fetch-depth: 0 on actions/checkout" in body


def test_a_single_branch_checkout_has_no_base_ref(tmp_path: Path) -> None:
    """actions/checkout's default: one commit of one ref, the base branch not fetched."""
    origin = tmp_path / "origin"
    base_and_pull_request(origin, pull_request_change)
    clone = tmp_path / "clone"
    shallow_clone(origin, clone)
    diff = data_diff(clone, base=None, env={"GITHUB_BASE_REF": "main"})
    assert diff.unavailable == (
        "neither origin/main nor main is in this clone (the base, from GITHUB_BASE_REF main)"
    )
    assert diff.hint is not None and "git fetch origin main" in diff.hint


def test_base_that_does_not_exist(tmp_path: Path) -> None:
    project = tmp_path / "project"
    base_and_pull_request(project, pull_request_change)
    diff = data_diff(project, base="no-such-branch")
    assert diff.unavailable == (
        "no-such-branch is not in this clone (the base, from --base no-such-branch)"
    )
    assert diff.hint is not None and "git fetch origin no-such-branch" in diff.hint
    option_like = data_diff(project, base="--output=/tmp/x")
    assert option_like.unavailable is not None  # never handed to git as an option


def test_not_a_git_repository(tmp_path: Path) -> None:
    from .git_repos import sample_project

    project = sample_project(tmp_path / "project")
    diff = data_diff(project)
    assert diff.unavailable is not None and "not in a git repository" in diff.unavailable
    assert diff.hint is not None and "actions/checkout" in diff.hint


def test_git_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    base_and_pull_request(project, pull_request_change)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    diff = data_diff(project)
    assert diff.unavailable == "git is not installed"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_a_workspace_owned_by_another_uid_is_read_without_global_config(tmp_path: Path) -> None:
    project = tmp_path / "project"
    base, _ = base_and_pull_request(project, pull_request_change)
    for root, folders, files in os.walk(project):
        for name in [*folders, *files]:
            os.lchown(Path(root) / name, 4321, 4321)
    os.lchown(project, 4321, 4321)
    refused = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "dubious ownership" in refused.stderr
    diff = data_diff(project)
    assert diff.unavailable is None and diff.base_commit == base
    assert customer_service(diff).intents_renamed_count == 1
    assert list((tmp_path / "home").iterdir()) == []  # no ~/.gitconfig written


def _object_count(repository: Path) -> str:
    return git(repository, "count-objects", "-v")


def test_a_partial_clone_never_fetches_a_missing_object(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    base_and_pull_request(origin, pull_request_change)
    git(origin, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    git(
        tmp_path,
        "clone",
        "-q",
        "--filter=blob:none",
        "--branch",
        "feature",
        f"file://{origin}",
        str(clone),
    )
    before = _object_count(clone)
    diff = data_diff(clone, base="origin/main")
    assert diff.unavailable is not None
    assert "is not in this clone" in diff.unavailable and DATASET in diff.unavailable
    assert diff.hint is not None and "--filter" in diff.hint
    assert _object_count(clone) == before

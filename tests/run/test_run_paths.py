"""The paths a run writes to, under one rule (issue 15 items 6 and 7): an audit log is a
file, an output folder a folder, and on Actions both stay in the workspace or RUNNER_TEMP.
A refused path is an `invalid` run naming the option, never a silent fallback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_trainer.audit import verify_file
from ci_trainer.cli import main

from .conftest import Harness
from .support import write_project


@pytest.fixture
def plain_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell: no CI variables, no credentials."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_", "RUNNER_")):
            monkeypatch.delenv(name)


def test_an_output_dir_that_is_a_file_is_an_error_without_workflow_commands(
    harness: Harness,
    tmp_path: Path,
    plain_shell: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("mine\n", encoding="utf-8")
    code = main(["validate", "--config", str(config), "--output-dir", "taken"])
    out, err = harness.output()
    assert code == 2
    assert (
        "error: --output-dir: 'taken' is a file; outputs.json and summary.md go into a folder"
        in (err)
    )
    assert "::" not in out + err  # no GitHub syntax in a plain shell
    assert (tmp_path / "taken").read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "ci-trainer-output").exists()  # nothing written anywhere else
    assert "outputs: not written (see the warning or error above)" in out
    assert verify_file(config.parent / "audit.log").ok  # the run is still audited


def test_an_audit_log_that_is_a_folder_is_refused_not_replaced_by_a_temp_file(
    harness: Harness,
    tmp_path: Path,
    plain_shell: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    code = main(["validate", "--config", str(config), "--audit-log", "logs", "--output-dir", "out"])
    _, err = harness.output()
    assert code == 2
    assert "--audit-log: 'logs' is a folder; the audit log is a file" in err
    assert "name a file, e.g. logs/" in err
    assert "fallback" not in err
    assert list((tmp_path / "logs").iterdir()) == []
    # The record goes where the config says, as for any refused run.
    assert verify_file(config.parent / "audit.log").ok


def actions_env(monkeypatch: pytest.MonkeyPatch, workspace: Path, temp: Path) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))
    monkeypatch.setenv("RUNNER_TEMP", str(temp))
    monkeypatch.setenv("GITHUB_OUTPUT", str(temp / "set_output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(temp / "step_summary"))


def test_on_actions_the_command_line_paths_stay_in_the_workspace_or_runner_temp(
    harness: Harness,
    tmp_path: Path,
    plain_shell: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_project(tmp_path / "workspace")
    workspace, temp, outside = config.parent, tmp_path / "runner-temp", tmp_path / "elsewhere"
    temp.mkdir()
    actions_env(monkeypatch, workspace, temp)
    monkeypatch.chdir(workspace)
    args = ["validate", "--config", str(config)]
    code = main([*args, "--audit-log", str(outside / "a.log"), "--output-dir", str(outside)])
    out, _ = harness.output()
    assert code == 2
    assert f"::error title=option --audit-log::--audit-log: '{outside / 'a.log'}' resolves" in out
    assert "::error title=option --output-dir::--output-dir:" in out
    assert "give a path inside the workspace or under RUNNER_TEMP" in out
    assert not outside.exists()
    # The runner's own files still get the run's outputs and summary.
    assert "decision<<" in (temp / "set_output").read_text(encoding="utf-8")
    assert "Invalid" in (temp / "step_summary").read_text(encoding="utf-8")
    # Inside the workspace and under RUNNER_TEMP both are fine.
    assert main([*args, "--audit-log", str(temp / "a.log"), "--output-dir", "out"]) == 0
    assert verify_file(temp / "a.log").ok

"""`ci-trainer run --junit PATH` end to end against the embedded emulator: the report is
valid against the schema and says what the run decided; a path it may not write is an
`invalid` run naming the option, like the other paths a run writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from junit_schema import outcomes, valid_report

from ci_trainer.cli import main

from .conftest import Harness
from .support import write_project


@pytest.fixture
def plain_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_", "RUNNER_")):
            monkeypatch.delenv(name)


def _outputs(folder: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((folder / "outputs.json").read_text(encoding="utf-8"))
    return data


def test_an_approved_run_writes_a_valid_report_that_passes(
    harness: Harness, tmp_path: Path, plain_shell: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    args = ["run", "--config", str(config), "--emulator", "--output-dir", "out"]
    code = main([*args, "--junit", "reports/junit.xml"])
    out, err = harness.output()
    assert code == 0, err
    root = valid_report(tmp_path / "reports" / "junit.xml")
    report = outcomes(root)
    assert report[("run", "decision")] == "passed"
    assert any(part == "datasets" for part, _ in report)
    assert any(part == "gate" for part, _ in report)
    assert set(report.values()) <= {"passed", "skipped"}
    assert root.get("failures") == "0" and root.get("errors") == "0"
    assert _outputs(tmp_path / "out")["junit"] == "reports/junit.xml"
    assert "junit: reports/junit.xml" in out.splitlines()


def test_a_rejected_run_fails_the_check_that_rejected_it(
    harness: Harness, tmp_path: Path, plain_shell: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project({"validation": {"min_examples_per_intent": 40}})
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--config", str(config), "--emulator", "--junit", "junit.xml"])
    assert code == 1, harness.output()[1]
    root = valid_report(tmp_path / "junit.xml")
    failing = [name for (part, name), ended in outcomes(root).items() if ended == "failure"]
    assert "decision" in failing
    assert any(name.startswith("min_examples_per_intent") for name in failing)
    decision = next(case for case in root.iter("testcase") if case.get("name") == "decision")
    reason = _outputs(tmp_path / "ci-trainer-output")["reason"]
    failure = decision.find("failure")
    assert failure is not None and failure.get("message") == reason


def test_an_invalid_config_is_one_error_case_naming_the_problem(
    harness: Harness, tmp_path: Path, plain_shell: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project({"training": {"validation_split": 0.9}})
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--config", str(config), "--junit", "junit.xml"]) == 2
    root = valid_report(tmp_path / "junit.xml")
    assert outcomes(root) == {("run", "decision"): "error"}
    error = next(root.iter("error"))
    assert "training.validation_split" in (error.text or "")


def test_a_junit_path_that_is_a_folder_is_refused(
    harness: Harness, tmp_path: Path, plain_shell: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    code = main(["validate", "--config", str(config), "--junit", "reports"])
    _, err = harness.output()
    assert code == 2
    assert "--junit: 'reports' is a folder; the JUnit report is a file" in err
    assert "name a file, e.g. reports/ci-trainer-junit.xml" in err
    assert list((tmp_path / "reports").iterdir()) == []


def test_on_actions_a_junit_path_outside_the_workspace_is_refused(
    harness: Harness, tmp_path: Path, plain_shell: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_project(tmp_path / "workspace")
    workspace, temp, outside = config.parent, tmp_path / "runner-temp", tmp_path / "elsewhere"
    temp.mkdir()
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(temp),
        "GITHUB_OUTPUT": str(temp / "set_output"),
        "GITHUB_STEP_SUMMARY": str(temp / "step_summary"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(workspace)
    code = main(["validate", "--config", str(config), "--junit", str(outside / "junit.xml")])
    out, _ = harness.output()
    assert code == 2
    assert "::error title=option --junit::--junit: " in out
    assert "give a path inside the workspace or under RUNNER_TEMP" in out
    assert not outside.exists()
    # Under RUNNER_TEMP it is written, and the output names it.
    assert main(["validate", "--config", str(config), "--junit", str(temp / "junit.xml")]) == 0
    assert outcomes(valid_report(temp / "junit.xml"))[("run", "decision")] == "passed"
    assert "junit<<" in (temp / "set_output").read_text(encoding="utf-8")

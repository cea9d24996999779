"""`publish` writes the JUnit report when asked, names it in the `junit` output, and never
lets a report it cannot write end the run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import run_results
from junit_schema import outcomes, valid_report
from runner_files import read_github_output

from ci_trainer.github import Commands, destinations, publish


def _actions_env(tmp_path: Path) -> dict[str, str]:
    files = tmp_path / "runner"
    files.mkdir()
    (files / "set_output").touch()
    (files / "step_summary").touch()
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path / "workspace"),
        "GITHUB_OUTPUT": str(files / "set_output"),
        "GITHUB_STEP_SUMMARY": str(files / "step_summary"),
    }


def test_on_actions_the_output_names_the_report_relative_to_the_workspace(
    tmp_path: Path,
) -> None:
    env = _actions_env(tmp_path)
    junit = tmp_path / "workspace" / "reports" / "junit.xml"
    written = publish(
        run_results.rejected(),
        env=env,
        output_dir=None,
        commands=Commands(io.StringIO()),
        junit=junit,
    )
    assert written == [junit]
    assert read_github_output(Path(env["GITHUB_OUTPUT"]))["junit"] == "reports/junit.xml"
    report = outcomes(valid_report(junit))
    assert report[("gate", "min_f1")] == "failure"
    assert report[("run", "decision")] == "failure"
    assert destinations(run_results.rejected(), written, env, junit=junit)[-1] == (
        "junit: reports/junit.xml"
    )


def test_outside_actions_the_report_sits_beside_the_output_folder(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    written = publish(
        run_results.approved(),
        env={},
        output_dir=tmp_path / "out",
        commands=Commands(io.StringIO()),
        junit=junit,
    )
    assert written == [junit, tmp_path / "out" / "outputs.json", tmp_path / "out" / "summary.md"]
    outputs = json.loads((tmp_path / "out" / "outputs.json").read_text(encoding="utf-8"))
    assert outputs["junit"] == str(junit)
    assert outcomes(valid_report(junit))[("run", "decision")] == "passed"
    lines = destinations(run_results.approved(), written, {}, junit=junit)
    assert lines[0] == f"summary: {tmp_path / 'out' / 'summary.md'}"
    assert lines[-1] == f"junit: {junit}"


def test_without_junit_nothing_is_written_and_the_output_is_empty(tmp_path: Path) -> None:
    env = _actions_env(tmp_path)
    written = publish(
        run_results.approved(), env=env, output_dir=None, commands=Commands(io.StringIO())
    )
    assert written == []
    assert read_github_output(Path(env["GITHUB_OUTPUT"]))["junit"] == ""
    assert not any(
        line.startswith("junit:") for line in destinations(run_results.approved(), [], env)
    )


def test_a_report_that_cannot_be_written_is_a_warning_and_the_rest_is_published(
    tmp_path: Path,
) -> None:
    env = _actions_env(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    stream = io.StringIO()
    junit = blocker / "junit.xml"
    written = publish(
        run_results.failed(), env=env, output_dir=None, commands=Commands(stream), junit=junit
    )
    assert written == []
    warnings = [line for line in stream.getvalue().splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1
    assert "could not write the JUnit report: " in warnings[0]
    outputs = read_github_output(Path(env["GITHUB_OUTPUT"]))
    assert (outputs["decision"], outputs["junit"]) == ("failed", "")
    assert destinations(run_results.failed(), written, env, junit=junit)[-1] == (
        "junit: not written (see the warning above)"
    )

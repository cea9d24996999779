"""Outputs, step summary and publish, read back the way the runner reads them."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import run_results
from hypothesis import given
from hypothesis import strategies as st
from runner_files import parse_github_output, read_github_output

from ci_trainer.github import (
    Commands,
    append_text,
    format_outputs,
    give_to_workspace_owner,
    publish,
    summary_budget,
    workspace_relative,
)
from ci_trainer.report import build_outputs


def test_each_value_gets_its_own_fresh_delimiter() -> None:
    text = format_outputs({"a": "1", "b": "two\nlines"})
    heads = [line for line in text.splitlines() if "<<" in line]
    delimiters = [head.split("<<", 1)[1] for head in heads]
    assert len(set(delimiters)) == 2
    assert all(d.startswith("ghadelimiter_") and len(d) > 40 for d in delimiters)
    assert parse_github_output(text) == {"a": "1", "b": "two\nlines"}


def test_a_value_that_contains_the_delimiter_gets_another_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = iter(["aaaa", "bbbb"])
    monkeypatch.setattr("ci_trainer.github.secrets.token_hex", lambda _n: next(tokens))
    value = "evil\nghadelimiter_aaaa\ninjected<<x"
    text = format_outputs({"reason": value})
    assert text.startswith("reason<<ghadelimiter_bbbb\n")
    assert parse_github_output(text) == {"reason": value}


@pytest.mark.parametrize("name", ["", "a\nb", "a<<b", "a=b"])
def test_invalid_output_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid output name"):
        format_outputs({name: "x"})


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), st.text()))
def test_any_values_round_trip_through_the_runner_parser(values: dict[str, str]) -> None:
    # The runner splits on \n only; a lone \r stays part of the value.
    assert parse_github_output(format_outputs(values)) == values


def test_append_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("earlier step content\n", encoding="utf-8")
    assert append_text(target, "## ours ✅\n") is None
    assert target.read_text(encoding="utf-8") == "earlier step content\n## ours ✅\n"


def test_unwritable_file_returns_the_problem_instead_of_raising(tmp_path: Path) -> None:
    problem = append_text(tmp_path / "missing" / "dir" / "out", "x")
    assert problem is not None
    assert "missing" in problem


def test_summary_budget_counts_what_the_step_already_wrote(tmp_path: Path) -> None:
    target = tmp_path / "summary"
    assert summary_budget(target, limit=100) == 100
    target.write_bytes(b"x" * 30)
    assert summary_budget(target, limit=100) == 70
    target.write_bytes(b"x" * 300)
    assert summary_budget(target, limit=100) == 0


def _actions_env(tmp_path: Path) -> dict[str, str]:
    output = tmp_path / "set_output"
    summary = tmp_path / "step_summary"
    output.touch()
    summary.touch()
    return {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}


@pytest.mark.parametrize("name", sorted(run_results.ALL))
def test_publish_on_actions_writes_the_runner_files(tmp_path: Path, name: str) -> None:
    result = run_results.ALL[name]()
    env = _actions_env(tmp_path)
    written = publish(
        result, env=env, output_dir=tmp_path / "unused", commands=Commands(io.StringIO())
    )
    assert written == []
    assert not (tmp_path / "unused").exists()
    assert read_github_output(Path(env["GITHUB_OUTPUT"])) == build_outputs(result)
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert summary.startswith("## ")
    assert result.decision.value.capitalize() in summary.splitlines()[0]


def test_publish_keeps_the_whole_step_under_one_mebibyte(tmp_path: Path) -> None:
    env = _actions_env(tmp_path)
    Path(env["GITHUB_STEP_SUMMARY"]).write_bytes(b"x" * (1024 * 1024 - 3000))
    publish(run_results.approved(), env=env, output_dir=None, commands=Commands(io.StringIO()))
    assert os.path.getsize(env["GITHUB_STEP_SUMMARY"]) <= 1024 * 1024


def test_publish_outside_actions_writes_output_dir(tmp_path: Path) -> None:
    result = run_results.rejected()
    written = publish(result, env={}, output_dir=tmp_path / "out", commands=Commands(io.StringIO()))
    assert written == [tmp_path / "out" / "outputs.json", tmp_path / "out" / "summary.md"]
    assert json.loads((tmp_path / "out" / "outputs.json").read_text()) == build_outputs(result)
    assert (
        (tmp_path / "out" / "summary.md").read_text(encoding="utf-8").startswith("## ❌ Rejected")
    )


def test_publish_defaults_to_ci_trainer_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    publish(run_results.skipped(), env={}, output_dir=None, commands=Commands(io.StringIO()))
    assert (tmp_path / "ci-trainer-output" / "outputs.json").is_file()
    assert (tmp_path / "ci-trainer-output" / "summary.md").is_file()


def test_publish_warns_instead_of_failing_when_files_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {"GITHUB_OUTPUT": str(blocker / "out"), "GITHUB_STEP_SUMMARY": str(blocker / "sum")}
    stream = io.StringIO()
    publish(run_results.approved(), env=env, output_dir=None, commands=Commands(stream))
    warnings = [line for line in stream.getvalue().splitlines() if line.startswith("::warning")]
    assert len(warnings) == 2
    assert "could not write the run's outputs or summary" in warnings[0]


def test_workspace_relative_paths(tmp_path: Path) -> None:
    env = {"GITHUB_WORKSPACE": str(tmp_path)}
    assert workspace_relative(str(tmp_path / "models" / "audit.log"), env) == "models/audit.log"
    assert workspace_relative("/elsewhere/audit.log", env) == "/elsewhere/audit.log"
    assert workspace_relative("audit.log", {}) == "audit.log"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_files_in_the_workspace_go_to_its_owner(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "out").mkdir(parents=True)
    os.chown(workspace, 1234, 2345)
    inside = workspace / "out" / "audit.log"
    inside.write_text("x")
    outside = tmp_path / "other.log"
    outside.write_text("y")
    give_to_workspace_owner([inside, outside], {"GITHUB_WORKSPACE": str(workspace)})
    assert (inside.stat().st_uid, inside.stat().st_gid) == (1234, 2345)
    assert (workspace / "out").stat().st_uid == 1234
    assert outside.stat().st_uid == 0


def test_ownership_is_left_alone_outside_actions(tmp_path: Path) -> None:
    target = tmp_path / "a.log"
    target.write_text("x")
    before = target.stat().st_uid
    give_to_workspace_owner([target], {})
    assert target.stat().st_uid == before

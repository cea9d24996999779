"""verify_file / `ci-trainer audit verify`: the first bad line and why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from runner_commands import parse, read_lines

from ci_trainer import audit
from ci_trainer.cli import main

from .runs import ALL_RESULTS, TAGS


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A valid log of five records (several decisions)."""
    path = tmp_path / "audit.log"
    for name in ["approved", "rejected", "promoted", "failed", "invalid"]:
        result = ALL_RESULTS[name]().model_copy(update={"run_uuid": f"run-{name}"})
        audit.append_record(path, audit.build_record(result, governance_tags=TAGS))
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def _edit(line: str, rehash: bool = False, **changes: Any) -> str:
    record = json.loads(line)
    record.update(changes)
    if rehash:
        record["hash"] = audit.record_hash(record)
    return json.dumps(record) + "\n"


def _problem(path: Path) -> tuple[int | None, str]:
    report = audit.verify_file(path)
    assert not report.ok
    return report.bad_line, report.problem or ""


def test_valid_log_is_ok(log: Path) -> None:
    report = audit.verify_file(log)
    assert report.ok and report.records == 5
    assert report.last_hash == json.loads(_lines(log)[-1])["hash"]


def test_edited_record_is_named(log: Path) -> None:
    lines = _lines(log)
    lines[2] = _edit(lines[2], decision="approved")  # rejected -> approved, hash kept
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 3
    assert problem.startswith("hash mismatch: the record was changed after it was written")


def test_edited_record_with_recomputed_hash_breaks_the_next_link(log: Path) -> None:
    lines = _lines(log)
    lines[1] = _edit(lines[1], rehash=True, decision="approved")
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 3
    assert "prevHash does not match line 2" in problem


def test_deleted_record_is_named(log: Path) -> None:
    lines = _lines(log)
    del lines[2]
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 3
    assert problem == (
        "prevHash does not match line 2: a record before this line was deleted or replaced"
    )


def test_deleted_first_record_is_named(log: Path) -> None:
    _rewrite(log, _lines(log)[1:])
    line, problem = _problem(log)
    assert line == 1
    assert "prevHash is not the genesis value" in problem


def test_reordered_records_are_named(log: Path) -> None:
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 2
    assert problem == "prevHash points to line 3, which comes after it: records were reordered"


def test_duplicated_record_is_named(log: Path) -> None:
    lines = _lines(log)
    lines.insert(3, lines[1])
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 4
    assert "prevHash points to line 1, not to line 3" in problem


def test_bad_json_is_named(log: Path) -> None:
    lines = _lines(log)
    lines[3] = lines[3][:40] + "\n"
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 4
    assert problem.startswith("not valid JSON (")


def test_schema_violation_names_the_field_path(log: Path) -> None:
    lines = _lines(log)
    record = json.loads(lines[1])
    record["metrics"]["f1"] = "high"
    record["hash"] = audit.record_hash(record)
    lines[1] = json.dumps(record) + "\n"
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 2
    assert problem.startswith("schema violation at $.metrics")
    assert "'high'" in problem


def test_missing_field_is_a_schema_violation(log: Path) -> None:
    lines = _lines(log)
    record = json.loads(lines[0])
    del record["decision"]
    lines[0] = json.dumps(record) + "\n"
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 1
    assert "'decision' is a required property" in problem


def test_inserted_genesis_record_is_named(log: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.log"
    audit.append_record(other, audit.build_record(ALL_RESULTS["skipped"](), governance_tags=TAGS))
    lines = _lines(log)
    lines.insert(2, _lines(other)[0])
    _rewrite(log, lines)
    line, problem = _problem(log)
    assert line == 3
    assert "the chain restarts here" in problem


def test_empty_line_and_non_object_are_named(log: Path) -> None:
    lines = _lines(log)
    _rewrite(log, [*lines[:2], "\n", *lines[2:]])
    assert _problem(log)[0] == 3
    _rewrite(log, [*lines[:4], "[1, 2]\n"])
    assert _problem(log) == (5, "not a JSON object but list")


def test_cli_ok_prints_one_line(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(log)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"OK: {log}: 5 records, chain intact, last hash ")


def test_cli_names_the_first_bad_line(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(log)
    lines[1] = _edit(lines[1], reason="nothing to see")
    lines[3] = "garbage\n"
    _rewrite(log, lines)
    assert main(["audit", "verify", str(log)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{log}:2: hash mismatch")


def test_cli_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(tmp_path / "nope.log")]) == 2
    assert "no such audit log file" in capsys.readouterr().err


def test_cli_names_a_folder_as_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"{tmp_path}: is a folder; name the log file in it "
        f"(e.g. {tmp_path / 'cognigy_training_audit.log'})\n"
    )


def test_cli_says_an_empty_log_is_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "audit.log"
    empty.touch()
    assert main(["audit", "verify", str(empty)]) == 0
    out = capsys.readouterr().out
    assert out == f"OK: {empty}: the log is empty (no records, nothing to check)\n"


def test_cli_counts_one_record_in_the_singular(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _rewrite(log, _lines(log)[:1])
    assert main(["audit", "verify", str(log)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {log}: 1 record, chain intact, last hash ")


def test_python_dash_m_end_to_end(log: Path) -> None:
    lines = _lines(log)
    del lines[1]
    _rewrite(log, lines)
    done = subprocess.run(
        [sys.executable, "-m", "ci_trainer", "audit", "verify", str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"{log}:2: prevHash does not match line 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_records_written_before_metrics_targets_existed_still_verify(tmp_path: Path) -> None:
    # Older writers had no `metrics.targets`: their records stay valid, and a new record
    # (which has it) chains onto them unchanged.
    path = tmp_path / "audit.log"
    old = audit.build_record(ALL_RESULTS["approved"](), governance_tags=TAGS)
    old["metrics"].pop("targets")
    old["production"]["metrics"].pop("targets")
    audit.append_record(path, old)
    new = audit.build_record(ALL_RESULTS["promoted"](), governance_tags=TAGS)
    assert new["metrics"]["targets"] == []
    audit.append_record(path, new)
    report = audit.verify_file(path)
    assert report.ok and report.records == 2, report.problem
    assert "targets" not in json.loads(_lines(path)[0])["metrics"]


def test_what_verify_prints_about_a_tampered_line_is_never_a_runner_command(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 7: a tampered record's text reaches the problem line; on a runner
    it must not act as a workflow command."""
    lines = _lines(log)
    record = json.loads(lines[0])
    record["reason"] = "x\\n::set-output name=decision::promoted"
    lines[0] = json.dumps(record) + "\\n::add-mask::tampered ##[error]forged"
    log.write_text("\\n".join(lines) + "\\n", encoding="utf-8")
    assert main(["audit", "verify", str(log)]) != 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert printed.strip()
    assert all(parse(line) is None for line in read_lines(printed)), printed

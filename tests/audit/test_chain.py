"""append_record: a hash chain over real files, also under concurrent writers."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest

from ci_trainer import audit

from .runs import TAGS, approved, rejected


def _record(n: int, **extra: Any) -> dict[str, Any]:
    result = approved().model_copy(update={"run_uuid": f"run-{n}"})
    return {**audit.build_record(result, governance_tags=TAGS), **extra}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_appends_chain_each_record_to_the_previous(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    results = [audit.append_record(log, _record(n)) for n in range(4)]
    lines = _lines(log)
    assert [line["auditId"] for line in lines] == ["run-0", "run-1", "run-2", "run-3"]
    assert lines[0]["prevHash"] == audit.GENESIS_HASH
    for before, after in itertools.pairwise(lines):
        assert after["prevHash"] == before["hash"]
    assert [r.hash for r in results] == [line["hash"] for line in lines]
    assert [r.prev_hash for r in results] == [line["prevHash"] for line in lines]
    assert all(audit.record_hash(line) == line["hash"] for line in lines)
    report = audit.verify_file(log)
    assert report.ok and report.records == 4 and report.last_hash == lines[-1]["hash"]


def test_stored_line_is_the_canonical_serialisation(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    audit.append_record(log, _record(1, reason="Ünïcode reason: naïve café"))
    raw = log.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert "naïve café".encode() in raw  # UTF-8, not \u escapes
    record = json.loads(raw)
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert raw == canonical.encode("utf-8") + b"\n"
    without_hash = {k: v for k, v in record.items() if k != "hash"}
    assert audit.record_hash(without_hash) == record["hash"]


def test_creates_missing_parent_directories(tmp_path: Path) -> None:
    log = tmp_path / "deep" / "er" / "audit.log"
    audit.append_record(log, _record(1))
    assert audit.verify_file(log).records == 1


def test_caller_record_is_not_modified(tmp_path: Path) -> None:
    record = _record(1)
    audit.append_record(tmp_path / "audit.log", record)
    assert "hash" not in record and "prevHash" not in record


def test_last_line_longer_than_one_read_block_is_found(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    long_reason = "x" * (3 * 4096 + 17)
    audit.append_record(log, _record(1))
    first_long = audit.append_record(log, _record(2, reason=long_reason))
    after = audit.append_record(log, _record(3))
    assert after.prev_hash == first_long.hash
    assert audit.verify_file(log).records == 3


def test_missing_final_newline_is_repaired_before_appending(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    first = audit.append_record(log, _record(1))
    log.write_bytes(log.read_bytes().rstrip(b"\n"))  # e.g. an editor dropped it
    second = audit.append_record(log, _record(2))
    assert second.prev_hash == first.hash
    assert audit.verify_file(log).records == 2


def test_torn_last_line_refuses_to_fork_the_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    audit.append_record(log, _record(1))
    log.write_bytes(log.read_bytes() + b'{"auditId": "half a rec')
    with pytest.raises(audit.AuditWriteError) as caught:
        audit.append_record(log, _record(2))
    message = str(caught.value)
    assert str(log) in message
    assert "last line is not a complete audit record" in message
    assert "ci-trainer audit verify" in message


def test_empty_existing_file_starts_at_genesis(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.touch()
    assert audit.append_record(log, _record(1)).prev_hash == audit.GENESIS_HASH


def _append_many(path: str, worker: int, count: int) -> None:
    for n in range(count):
        result = rejected().model_copy(update={"run_uuid": f"w{worker}-{n}"})
        audit.append_record(Path(path), audit.build_record(result, governance_tags=TAGS))


def test_concurrent_processes_keep_one_valid_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    workers, per_worker = 4, 10
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_append_many, args=(str(log), w, per_worker)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    report = audit.verify_file(log)
    assert report.ok, report.text()
    assert report.records == workers * per_worker
    ids = {line["auditId"] for line in _lines(log)}
    assert ids == {f"w{w}-{n}" for w in range(workers) for n in range(per_worker)}


def test_concurrent_threads_keep_one_valid_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    threads = [threading.Thread(target=_append_many, args=(str(log), w, 5)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    report = audit.verify_file(log)
    assert report.ok, report.text()
    assert report.records == 20

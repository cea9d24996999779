"""write_audit never loses a record: unwritable paths, permission denied, disk full."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ci_trainer import audit

from .runs import TAGS, approved, failed_with_support


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def _fail_on(path: Path, real: Callable[..., Any], error: int, *, partial: bool = False) -> Any:
    """A stand-in for os.write/os.fsync that fails only for `path` (the disk it is on is
    'full'); with `partial`, the first write lands half of its bytes first."""
    state = {"wrote_half": False}

    def fake(fd: int, *args: Any) -> Any:
        if _fd_path(fd) != str(path):
            return real(fd, *args)
        if partial and not state["wrote_half"]:
            state["wrote_half"] = True
            data = bytes(args[0])
            return real(fd, data[: len(data) // 2])
        raise OSError(error, os.strerror(error))

    return fake


def _seeded_log(tmp_path: Path) -> Path:
    log = tmp_path / "primary" / "audit.log"
    audit.write_audit(approved(), log, governance_tags=TAGS, fallback_dir=None)
    return log


def test_parent_is_a_file_goes_to_the_fallback(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    fallback_dir = tmp_path / "fallback"
    outcome = audit.write_audit(
        approved(), blocker / "audit.log", governance_tags=TAGS, fallback_dir=fallback_dir
    )
    assert outcome.written and outcome.fallback_used
    assert outcome.path == fallback_dir / audit.FALLBACK_FILE_NAME
    assert outcome.primary_error is not None
    assert str(blocker / "audit.log") in outcome.primary_error
    assert f"{blocker} is a file, not a directory" in outcome.primary_error
    report = audit.verify_file(fallback_dir / audit.FALLBACK_FILE_NAME)
    assert report.ok and report.records == 1 and report.last_hash == outcome.hash


def test_path_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(audit.AuditWriteError) as caught:
        audit.append_record(tmp_path, {"auditId": "x"})
    assert "the path is a directory" in str(caught.value)
    assert "point audit.path at a file" in str(caught.value)


def test_permission_denied_goes_to_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, where chmod does not deny anything: deny at the system call.
    primary = tmp_path / "locked" / "audit.log"
    real_open = os.open

    def deny(path: Any, *args: Any, **kwargs: Any) -> int:
        if Path(path) == primary:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    outcome = audit.write_audit(
        approved(), primary, governance_tags=TAGS, fallback_dir=tmp_path / "fb"
    )
    assert outcome.fallback_used and outcome.written
    assert outcome.primary_error == (
        f"cannot write the audit log {primary}: permission denied (opening it) "
        "(make the file and its directory writable)"
    )


def test_disk_full_mid_write_leaves_primary_intact_and_uses_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _seeded_log(tmp_path)
    before = log.read_bytes()
    monkeypatch.setattr(os, "write", _fail_on(log, os.write, errno.ENOSPC, partial=True))
    outcome = audit.write_audit(
        failed_with_support(), log, governance_tags=TAGS, fallback_dir=tmp_path / "fb"
    )
    monkeypatch.undo()
    assert log.read_bytes() == before  # the half-written line was cut off again
    assert audit.verify_file(log).ok
    assert outcome.fallback_used
    assert outcome.primary_error is not None and "the disk is full" in outcome.primary_error
    fallback = tmp_path / "fb" / audit.FALLBACK_FILE_NAME
    assert json.loads(fallback.read_text())["decision"] == "failed"


def test_disk_full_at_fsync_is_not_reported_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _seeded_log(tmp_path)
    before = log.read_bytes()
    monkeypatch.setattr(os, "fsync", _fail_on(log, os.fsync, errno.ENOSPC))
    with pytest.raises(audit.AuditWriteError) as caught:
        audit.append_record(log, audit.build_record(approved(), governance_tags=TAGS))
    monkeypatch.undo()
    assert "the disk is full (writing the record)" in str(caught.value)
    assert log.read_bytes() == before


def test_every_file_failing_still_returns_the_record_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(blocker / "tmp"))
    outcome = audit.write_audit(
        approved(), blocker / "a.log", governance_tags=TAGS, fallback_dir=blocker / "fb"
    )
    assert not outcome.written and outcome.path is None and outcome.hash is None
    assert len(outcome.errors) == 3
    assert outcome.primary_error == outcome.errors[0]
    assert json.loads(outcome.line)["auditId"] == approved().run_uuid


def test_outcome_is_recorded_on_the_run_result(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    outcome = audit.write_audit(approved(), log, governance_tags=TAGS, fallback_dir=None)
    updated = outcome.apply(approved())
    assert updated.audit_log == str(log)
    assert updated.audit_hash == outcome.hash
    assert updated.audit_error is None
    assert not outcome.fallback_used and outcome.primary_error is None


def test_fallback_in_the_system_temp_dir_when_no_fallback_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "systmp"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    outcome = audit.write_audit(
        approved(), blocker / "a.log", governance_tags=TAGS, fallback_dir=None
    )
    assert outcome.path == tmp_path / "systmp" / audit.FALLBACK_FILE_NAME


def test_a_stuck_lock_holder_sends_the_record_to_the_fallback(tmp_path: Path) -> None:
    import fcntl

    log = _seeded_log(tmp_path)
    with log.open("rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)  # as a hung writer would
        with pytest.raises(audit.AuditWriteError) as caught:
            audit.append_record(log, {"auditId": "x"}, lock_timeout=0.05)
        assert "another process has held its lock for more than 0.05 s" in str(caught.value)
        outcome = audit.write_audit(
            approved(), log, governance_tags=TAGS, fallback_dir=tmp_path / "fb", lock_timeout=0.05
        )
    assert outcome.fallback_used and outcome.written
    assert audit.verify_file(log).records == 1  # untouched


_FILE_SIZE_LIMITED_WRITER = """
import json, resource, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from audit.runs import TAGS, failed_with_support
from ci_trainer import audit

log, fallback_dir, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
outcome = audit.write_audit(
    failed_with_support(), log, governance_tags=TAGS, fallback_dir=fallback_dir
)
print(json.dumps({"path": str(outcome.path), "error": outcome.primary_error}))
"""


def test_a_real_file_size_limit_cuts_the_partial_line_and_falls_back(tmp_path: Path) -> None:
    # The kernel writes up to the limit and then fails (EFBIG): a real partial write,
    # as on a full disk, with no monkeypatching.
    import subprocess
    import sys

    log = _seeded_log(tmp_path)
    before = log.read_bytes()
    tests_dir = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _FILE_SIZE_LIMITED_WRITER,
            str(log),
            str(tmp_path / "fb"),
            str(len(before) + 100),
            str(tests_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    outcome = json.loads(done.stdout)
    assert outcome["path"] == str(tmp_path / "fb" / audit.FALLBACK_FILE_NAME)
    assert "the file is too large (writing the record)" in outcome["error"]
    assert log.read_bytes() == before
    assert audit.verify_file(tmp_path / "fb" / audit.FALLBACK_FILE_NAME).records == 1

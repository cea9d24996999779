"""Appending one record to a log file, chained to its last line and fsynced.

`append_record` holds an exclusive `flock` on the log file from reading the last line
until the new line is fsynced, so concurrent runs on one file never fork the chain; a
holder that keeps it past `LOCK_TIMEOUT` (a hung process) makes the append fail, so the
caller can send the record to a fallback instead of blocking a cancelled run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_trainer.audit.chain import GENESIS_HASH, is_hash, line_text, record_hash
from ci_trainer.errors import CiTrainerError

_TAIL_BLOCK = 4096  # bytes read per step when looking for the last line from the end
# A healthy writer holds the lock for milliseconds; a cancelled run must still finish
# within the runner's 7.5 s grace period, so a stuck holder sends the record elsewhere.
LOCK_TIMEOUT = 5.0
_LOCK_POLL = 0.01


class AuditWriteError(CiTrainerError):
    """The audit record could not be appended to a log file."""

    def __init__(self, path: Path, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"cannot write the audit log {path}: {message}", hint=hint)
        self.path = path


@dataclass(frozen=True)
class AppendResult:
    path: Path
    hash: str
    prev_hash: str


def append_record(
    path: Path, record: dict[str, Any], *, lock_timeout: float = LOCK_TIMEOUT
) -> AppendResult:
    """Append `record` to the JSON Lines log at `path`, chained to its last line.

    Creates missing parent directories. Raises `AuditWriteError` when the file cannot be
    written; a partly written line is cut off again so the log stays verifiable.
    """
    path = Path(path)
    _check_serialisable(path, record)
    _make_parents(path)
    fd, created = _open_log(path)
    try:
        _lock(fd, path, lock_timeout)  # released by close; spans read-last-line .. fsync
        size = os.fstat(fd).st_size
        prev_hash, needs_newline = _chain_tail(fd, size, path)
        chained = {**record, "prevHash": prev_hash}
        chained["hash"] = record_hash(chained)
        line = ("\n" if needs_newline else "") + line_text(chained) + "\n"
        _write_durably(fd, line.encode("utf-8"), size, path)
    finally:
        os.close(fd)
    if created:
        _fsync_directory(path.parent)
    return AppendResult(path=path, hash=chained["hash"], prev_hash=prev_hash)


def _lock(fd: int, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _try_lock(fd, path):
        if time.monotonic() >= deadline:
            raise AuditWriteError(
                path,
                f"another process has held its lock for more than {timeout:g} s",
                hint="look for a hung ci-trainer process writing the same log",
            )
        time.sleep(_LOCK_POLL)


def _try_lock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise _write_error(path, exc, "locking it") from exc
    return True


def _check_serialisable(path: Path, record: dict[str, Any]) -> None:
    """Fail before touching the file when the record cannot become a JSON line."""
    try:
        line_text(record).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise AuditWriteError(
            path,
            f"the record cannot be written as JSON ({type(exc).__name__}: {exc})",
            hint="build records with build_record(); this is a bug in ci-trainer",
        ) from exc


def _make_parents(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        # mkdir says "exists" when an ancestor is a file; name that file.
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        raise AuditWriteError(
            path,
            f"{blocker} is a file, not a directory",
            hint="point audit.path at a file inside a directory",
        ) from exc
    except OSError as exc:
        raise _write_error(path, exc, "creating its directory") from exc


def _open_log(path: Path) -> tuple[int, bool]:
    """Open for append (and reading the tail); True when this call created the file."""
    flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            return os.open(path, flags), False
    except OSError as exc:
        raise _write_error(path, exc, "opening it") from exc


def _chain_tail(fd: int, size: int, path: Path) -> tuple[str, bool]:
    """The last record's hash (or the genesis value), and whether a newline is missing."""
    if size == 0:
        return GENESIS_HASH, False
    try:
        last = _last_line(fd, size)
    except OSError as exc:
        raise _write_error(path, exc, "reading its last line") from exc
    needs_newline = not last.endswith(b"\n")
    try:
        parsed = json.loads(last.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        parsed = None
    stored = parsed.get("hash") if isinstance(parsed, dict) else None
    if not is_hash(stored):
        raise AuditWriteError(
            path,
            "its last line is not a complete audit record, so the new record cannot be "
            "chained to it",
            hint=f"run `ci-trainer audit verify {path}` and restore the file from a backup",
        )
    return str(stored), needs_newline


def _last_line(fd: int, size: int) -> bytes:
    """The file's last line (with its newline, if any), read backwards from the end."""
    tail = b""
    position = size
    while position > 0:
        start = max(0, position - _TAIL_BLOCK)
        tail = os.pread(fd, position - start, start) + tail
        # A newline as the very last byte ends the last line; look before it.
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut != -1:
            return tail[cut + 1 :]
        position = start
    return tail


def _write_durably(fd: int, data: bytes, original_size: int, path: Path) -> None:
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        # Cut off whatever part of the line reached the file: a torn last line would
        # make every later append refuse to chain, and the record goes to the fallback.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, original_size)
        raise _write_error(path, exc, "writing the record") from exc


def _fsync_directory(directory: Path) -> None:
    # Makes the new directory entry durable; some file systems refuse, which is harmless.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


_ERRNO_ADVICE: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full", "free space or point audit.path at another volume"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space or raise the quota"),
    errno.EACCES: ("permission denied", "make the file and its directory writable"),
    errno.EPERM: ("operation not permitted", "make the file and its directory writable"),
    errno.EROFS: ("the file system is read-only", "point audit.path at a writable location"),
    errno.EISDIR: ("the path is a directory", "point audit.path at a file"),
    errno.ENOTDIR: (
        "a parent of the path is not a directory",
        "point audit.path at a file inside a directory",
    ),
    errno.EFBIG: ("the file is too large", "rotate the audit log"),
}


def _write_error(path: Path, exc: OSError, doing: str) -> AuditWriteError:
    what, hint = _ERRNO_ADVICE.get(
        exc.errno or 0, (exc.strerror or type(exc).__name__, "check the path and disk")
    )
    return AuditWriteError(path, f"{what} ({doing})", hint=hint)

"""The governance audit log: one hash-chained JSON Lines record per run, never lost.

Record: `build_record(result)` turns the RunResult into a JSON object (the seed's fields
plus everything an auditor needs to prove what ran, on which data, with which thresholds
and who triggered it). Nothing is recomputed here; every value is a RunResult field.

Chain: each line carries `prevHash` (the previous line's `hash`, or `GENESIS_HASH` for the
first line) and `hash`, the SHA-256 of the record's canonical JSON without `hash` (see
`canonical_json`; the schema's description says the same so an auditor can recompute it
without this code). Editing, deleting or reordering a line breaks the chain. Removing
records from the END leaves a valid shorter chain: that is caught only by comparing the
last hash with one kept elsewhere (the run's `audit_hash` output, printed by verify).

Writing: `append_record` holds an exclusive `flock` on the log file from reading the last
line until the new line is fsynced, so concurrent runs on one file never fork the chain;
a holder that keeps it past `LOCK_TIMEOUT` (a hung process) sends the record to the
fallback instead of blocking a cancelled run.
`write_audit` falls back to another file when the configured one cannot be written, so a
run's record is never lost; `verify_file` / `verify_cli` check a log (`ci-trainer audit
verify PATH`).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import BaseModel

from ci_trainer.errors import CiTrainerError
from ci_trainer.redact import Redactor, map_strings
from ci_trainer.result import CheckResult, RunResult

SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64
FALLBACK_FILE_NAME = "ci-trainer-audit.fallback.log"
_TAIL_BLOCK = 4096  # bytes read per step when looking for the last line from the end
# A healthy writer holds the lock for milliseconds; a cancelled run must still finish
# within the runner's 7.5 s grace period, so a stuck holder sends the record elsewhere.
LOCK_TIMEOUT = 5.0
_LOCK_POLL = 0.01
_HEX = frozenset("0123456789abcdef")


class AuditWriteError(CiTrainerError):
    """The audit record could not be appended to a log file."""

    def __init__(self, path: Path, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"cannot write the audit log {path}: {message}", hint=hint)
        self.path = path


# --------------------------------------------------------------------------- record


def build_record(
    result: RunResult, *, governance_tags: list[str], redactor: Redactor | None = None
) -> dict[str, Any]:
    """The audit record of one run, without `prevHash`/`hash` (`append_record` adds them).

    `auditId` is the run's UUID, so the record, the outputs and the webhook event of one
    run can be matched. Keys are camelCase; values keep their RunResult meaning.
    """
    record: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "auditId": _plain(result.run_uuid),
        "timestamp": _iso(result.finished_at),
        "startedAt": _iso(result.started_at),
        "finishedAt": _iso(result.finished_at),
        "modelId": _plain(result.model_id),
        "target": _plain(result.target),
        "trainingId": _plain(result.training_id),
        "versionId": _plain(result.version_id),
        "status": _plain(result.status),
        "durationSeconds": _plain(result.duration_seconds),
        "trainingSeconds": _plain(result.training_seconds),
        "metrics": _plain(result.metrics),
        "promotedToProduction": result.promoted,
        "convergenceData": _plain(result.convergence),
        "governanceTags": [_text(str(tag)) for tag in governance_tags],
        "decision": result.decision.value,
        "exitCode": result.exit_code,
        "reason": _plain(result.reason),
        "reasons": _plain(result.reasons),
        "mode": result.mode.value,
        "thresholds": _plain(result.thresholds),
        "datasets": _plain(result.datasets),
        "checks": [_check_entry(check) for check in result.checks],
        "gate": _plain(result.gate),
        "production": _plain(result.production),
        "champion": _plain(result.champion),
        "championNote": _plain(result.champion_note),
        "weakestIntents": _plain(result.weakest_intents),
        "attempts": _plain(result.attempts),
        "resources": _plain(result.resources),
        "config": {"path": _plain(result.config_path), "sha256": _plain(result.config_sha256)},
        "provenance": _plain(result.provenance),
        "webhook": _plain(result.webhook),
        "promotion": _plain(result.promotion),
        "support": _plain(result.support),
        "error": _plain(result.error),
        "messages": _plain(result.messages),
        "toolVersion": _plain(result.tool_version),
        "backend": _plain(result.backend),
    }
    return map_strings(record, redactor) if redactor is not None else record


def _check_entry(check: CheckResult) -> dict[str, Any]:
    # An imbalance ratio can be infinite (an intent with no examples); JSON has no
    # Infinity, and null would read as "not measured", so such a value is kept as text.
    entry: dict[str, Any] = _plain(check)
    for name in ("value", "threshold"):
        raw = getattr(check, name)
        if isinstance(raw, float) and not math.isfinite(raw):
            entry[name] = str(raw)
    return entry


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _plain(value: Any) -> Any:
    """JSON-ready copy of a RunResult value; only model field names become camelCase.

    Dict keys (intent names, threshold names) are data and stay as they are.
    """
    if isinstance(value, BaseModel):
        return {_camel(name): _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {_text(str(key)): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=str)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    return _text(str(value))  # paths and anything else a RunResult may hold


def _text(value: str) -> str:
    # A lone surrogate (a file name read with surrogateescape) cannot be written as
    # UTF-8; keep it visible as an escape instead of failing the whole record.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _iso(moment: datetime) -> str:
    # A naive datetime in a RunResult is UTC by convention (pipeline clocks are UTC).
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()


# --------------------------------------------------------------------------- hashing


def canonical_json(record: dict[str, Any]) -> bytes:
    """The bytes that are hashed: the record without `hash`, keys sorted at every level,
    no whitespace, non-ASCII characters as UTF-8 (not \\u escapes), no NaN/Infinity."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return _line_text(body).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    """Lowercase hex SHA-256 of `canonical_json(record)`."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


# --------------------------------------------------------------------------- append


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
        line = ("\n" if needs_newline else "") + _line_text(chained) + "\n"
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


def _line_text(record: dict[str, Any]) -> str:
    # The stored line is canonical JSON too (hash included), so it is byte-stable.
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _check_serialisable(path: Path, record: dict[str, Any]) -> None:
    """Fail before touching the file when the record cannot become a JSON line."""
    try:
        _line_text(record).encode("utf-8")
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
    if not _is_hash(stored):
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


# --------------------------------------------------------------------------- write with fallback


@dataclass(frozen=True)
class AuditOutcome:
    """Where a run's record went. `path` None means every file failed; `line` is then
    the record itself, for the caller to print so it still reaches the job log."""

    record: dict[str, Any]
    path: Path | None
    hash: str | None
    prev_hash: str | None
    fallback_used: bool
    primary_error: str | None
    errors: tuple[str, ...] = ()
    line: str = ""

    @property
    def written(self) -> bool:
        return self.path is not None

    def apply(self, result: RunResult) -> RunResult:
        """A copy of `result` that records where its audit record went."""
        return result.model_copy(
            update={
                "audit_log": str(self.path) if self.path is not None else None,
                "audit_hash": self.hash,
                "audit_error": self.primary_error,
            }
        )


def write_audit(
    result: RunResult,
    path: Path,
    *,
    governance_tags: list[str],
    fallback_dir: Path | None,
    redactor: Redactor | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> AuditOutcome:
    """Append the run's record to `path`; when that fails, to a fallback file in
    `fallback_dir`, then in the system temp dir. Never raises `AuditWriteError`."""
    record = build_record(result, governance_tags=governance_tags, redactor=redactor)
    errors: list[str] = []
    for candidate in _candidates(Path(path), fallback_dir):
        try:
            appended = append_record(candidate, record, lock_timeout=lock_timeout)
        except AuditWriteError as exc:
            errors.append(str(exc))
            continue
        return AuditOutcome(
            record=record,
            path=appended.path,
            hash=appended.hash,
            prev_hash=appended.prev_hash,
            fallback_used=candidate != Path(path),
            primary_error=errors[0] if errors else None,
            errors=tuple(errors),
        )
    return AuditOutcome(
        record=record,
        path=None,
        hash=None,
        prev_hash=None,
        fallback_used=False,
        primary_error=errors[0] if errors else None,
        errors=tuple(errors),
        line=_line_text(record),
    )


def _candidates(primary: Path, fallback_dir: Path | None) -> list[Path]:
    found: list[Path] = [primary]
    for directory in (fallback_dir, Path(tempfile.gettempdir())):
        if directory is None:
            continue
        candidate = Path(directory) / FALLBACK_FILE_NAME
        if candidate not in found:
            found.append(candidate)
    return found


# --------------------------------------------------------------------------- schema


@cache
def load_schema() -> dict[str, Any]:
    """The committed JSON Schema of one audit record (Draft 2020-12)."""
    text = (
        resources.files("ci_trainer.schemas")
        .joinpath("audit-record.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problem(record: Any) -> str | None:
    """The most relevant schema violation of `record` with its field path, or None."""
    error = best_match(_validator().iter_errors(record))
    if error is None:
        return None
    return f"schema violation at {error.json_path}: {error.message}"


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    records: int
    last_hash: str | None
    bad_line: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def text(self) -> str:
        if self.ok:
            last = self.last_hash or "none"
            return f"OK: {self.path}: {self.records} records, chain intact, last hash {last}"
        where = f"{self.path}:{self.bad_line}" if self.bad_line else str(self.path)
        return f"{where}: {self.problem}"


@dataclass
class _ChainState:
    expected_prev: str = GENESIS_HASH
    records: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # hash -> line number


def verify_file(path: Path | str) -> VerifyReport:
    """Check every line: JSON, schema, its own hash, and the chain; stop at the first
    bad line and say what is wrong with it."""
    path = Path(path)
    state = _ChainState()
    try:
        for number, raw in _numbered_lines(path):
            problem = _line_problem(path, number, raw, state)
            if problem is not None:
                return VerifyReport(path, state.records, _last(state), number, problem)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return VerifyReport(path, state.records, _last(state), None, f"cannot read: {reason}")
    return VerifyReport(path, state.records, _last(state))


def _last(state: _ChainState) -> str | None:
    return None if state.records == 0 else state.expected_prev


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        yield from enumerate(handle, start=1)


def _line_problem(path: Path, number: int, raw: bytes, state: _ChainState) -> str | None:
    if not raw.strip():
        return "empty line (a record was removed or the file was edited by hand)"
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start + 1})"
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    problem = schema_problem(record)
    if problem is not None:
        return problem
    stored = record["hash"]
    computed = record_hash(record)
    if computed != stored:
        return (
            f"hash mismatch: the record was changed after it was written "
            f"(stored {stored[:12]}..., recomputed {computed[:12]}...)"
        )
    problem = _chain_problem(path, number, record["prevHash"], state)
    if problem is not None:
        return problem
    state.seen[stored] = number
    state.expected_prev = stored
    state.records += 1
    return None


def _chain_problem(path: Path, number: int, prev_hash: str, state: _ChainState) -> str | None:
    if prev_hash == state.expected_prev:
        return None
    if number == 1:
        return (
            "prevHash is not the genesis value: records before this one were deleted "
            "(or this file continues a rotated log)"
        )
    if prev_hash == GENESIS_HASH:
        return "prevHash is the genesis value: the chain restarts here (records were inserted)"
    earlier = state.seen.get(prev_hash)
    if earlier is not None:
        return (
            f"prevHash points to line {earlier}, not to line {number - 1}: "
            "records were reordered or duplicated"
        )
    later = _find_hash_after(path, number, prev_hash)
    if later is not None:
        return f"prevHash points to line {later}, which comes after it: records were reordered"
    return (
        f"prevHash does not match line {number - 1}: a record before this line was "
        "deleted or replaced"
    )


def _find_hash_after(path: Path, number: int, wanted: str) -> int | None:
    """The line after `number` whose record has hash `wanted` (only to explain a break)."""
    for later, raw in _numbered_lines(path):
        if later <= number:
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and record.get("hash") == wanted:
            return later
    return None


def verify_cli(path: str) -> int:
    """`ci-trainer audit verify PATH`: 0 and one OK line, 1 and the first bad line, or 2
    when the file cannot be read."""
    target = Path(path)
    if not target.is_file():
        print(f"{path}: no such audit log file", file=sys.stderr)
        return 2
    report = verify_file(target)
    if report.ok:
        print(report.text())
        return 0
    print(report.text(), file=sys.stderr)
    return 1 if report.bad_line is not None else 2

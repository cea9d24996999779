"""Checking a log: every line's JSON, schema, own hash and place in the chain.

`verify_file` stops at the first bad line and says what is wrong with it; `verify_cli` is
`ci-trainer audit verify PATH`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ci_trainer.audit.chain import GENESIS_HASH, record_hash
from ci_trainer.audit.schema import schema_problem
from ci_trainer.redact import neutralise_commands


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
        if self.ok and self.records == 0:
            return f"OK: {self.path}: the log is empty (no records, nothing to check)"
        if self.ok:
            records = f"{self.records} record{'s' if self.records != 1 else ''}"
            return f"OK: {self.path}: {records}, chain intact, last hash {self.last_hash}"
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
    if target.is_dir():
        from ci_trainer.config.model import AuditSection  # pydantic: only on this path

        example = target / AuditSection().path
        _say(f"{path}: is a folder; name the log file in it (e.g. {example})", sys.stderr)
        return 2
    if not target.is_file():
        _say(f"{path}: no such audit log file", sys.stderr)
        return 2
    report = verify_file(target)
    if report.ok:
        _say(report.text(), sys.stdout)
        return 0
    _say(report.text(), sys.stderr)
    return 1 if report.bad_line is not None else 2


def _say(text: str, stream: TextIO) -> None:
    # A tampered log's line, or its path, can carry anything: on a CI runner no part of
    # what we print about it may act as a workflow command.
    print(neutralise_commands(text), file=stream)

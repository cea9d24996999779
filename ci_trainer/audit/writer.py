"""Writing a run's record so that it is never lost: the configured log, else a fallback."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_trainer.audit.append import LOCK_TIMEOUT, AuditWriteError, append_record
from ci_trainer.audit.chain import line_text
from ci_trainer.audit.record import build_record
from ci_trainer.redact import Redactor
from ci_trainer.result import RunResult

FALLBACK_FILE_NAME = "ci-trainer-audit.fallback.log"


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
        line=line_text(record),
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

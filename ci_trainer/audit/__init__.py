"""The governance audit log: one hash-chained JSON Lines record per run, never lost.

- `record`: `build_record(result)` turns the RunResult into the record's JSON object.
- `chain`: what is hashed (`canonical_json`, `record_hash`) and `GENESIS_HASH`.
- `append`: `append_record` adds one record under a file lock, chained and fsynced.
- `writer`: `write_audit` falls back to another file when the configured one cannot be
  written, so a run's record is never lost.
- `schema` and `verify`: the committed JSON Schema, and `verify_file` / `verify_cli`
  (`ci-trainer audit verify PATH`) that check a log line by line.
"""

from ci_trainer.audit.append import AppendResult, AuditWriteError, append_record
from ci_trainer.audit.chain import GENESIS_HASH, canonical_json, record_hash
from ci_trainer.audit.record import build_record
from ci_trainer.audit.schema import load_schema, schema_problem
from ci_trainer.audit.verify import VerifyReport, verify_cli, verify_file
from ci_trainer.audit.writer import FALLBACK_FILE_NAME, AuditOutcome, write_audit

__all__ = [
    "FALLBACK_FILE_NAME",
    "GENESIS_HASH",
    "AppendResult",
    "AuditOutcome",
    "AuditWriteError",
    "VerifyReport",
    "append_record",
    "build_record",
    "canonical_json",
    "load_schema",
    "record_hash",
    "schema_problem",
    "verify_cli",
    "verify_file",
    "write_audit",
]

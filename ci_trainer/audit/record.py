"""The audit record of one run: the RunResult as a JSON object an auditor can read.

The seed's fields plus everything needed to prove what ran, on which data, with which
thresholds and who triggered it. Nothing is recomputed here; every value is a RunResult
field.
"""

from __future__ import annotations

import enum
import math
from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel

from ci_trainer.data_diff_types import DataDiff
from ci_trainer.holdout_types import HoldoutChanges
from ci_trainer.redact import Redactor, map_strings
from ci_trainer.result import CheckResult, RunResult

SCHEMA_VERSION = 1
# The record stays small: the counts and the largest confusion changes, never the
# utterances (they are in the predictions file, whose sha256 the record keeps).
RECORD_CONFUSIONS = 10


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
        "dataDiff": _data_diff_entry(result.data_diff),
        "intentsExports": _plain(result.service_exports),
        "gate": _plain(result.gate),
        "production": _plain(result.production),
        "champion": _plain(result.champion),
        "championNote": _plain(result.champion_note),
        "held": result.held,
        "holdoutChanges": _changes_entry(result.holdout_changes),
        "predictionsFile": _plain(result.predictions_file),
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


def _changes_entry(changes: HoldoutChanges | None) -> dict[str, Any] | None:
    if changes is None:
        return None
    return {
        "utterances": len(changes.outcomes),
        "regressed": changes.regressed,
        "fixed": changes.fixed,
        "confusionPairsChanged": len(changes.confusions),
        "confusions": _plain(changes.confusions[:RECORD_CONFUSIONS]),
    }


def _data_diff_entry(diff: DataDiff | None) -> dict[str, Any] | None:
    """The data diff's counts and base commit; the example texts stay out of the record
    (they are in the repository at the two commits it names)."""
    if diff is None:
        return None
    entry: dict[str, Any] = _plain(diff)
    for file in [*entry["datasets"], *([entry["holdout"]] if entry["holdout"] else [])]:
        for intent in file["intents"]:
            for name in ("added", "removed", "movedIn"):
                del intent[name]
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

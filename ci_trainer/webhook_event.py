"""The registry event of one run: its body, its id, the exact bytes sent, their signature.

The body is serialised once and those exact bytes are signed (HMAC-SHA256,
`X-CI-Trainer-Signature: sha256=<hex>`); every attempt re-sends them with the same
`eventId`, so a receiver can check the signature and drop duplicates. Sending it is
`ci_trainer.webhook`'s job.

Event names, by decision (the seed's `model_training_completed` is kept for a finished,
evaluated training):

- `approved`, `rejected` -> `model_training_completed`
- `promoted`             -> `model_promoted`
- `failed`               -> `model_training_failed`
- `invalid`              -> `model_training_invalid`
- `validated`            -> `model_validation_completed`
- `skipped`              -> `model_training_skipped`
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import uuid
from datetime import datetime, timezone
from typing import Any

from ci_trainer.data_diff_types import DataDiff, FileDiff
from ci_trainer.decision import Decision
from ci_trainer.holdout_types import HoldoutChanges
from ci_trainer.result import RunResult

SOURCE = "ci-trainer"
SIGNATURE_HEADER = "X-CI-Trainer-Signature"
EVENT_HEADER = "X-CI-Trainer-Event"
DELIVERY_HEADER = "X-CI-Trainer-Delivery"

EVENT_NAMES: dict[Decision, str] = {
    Decision.APPROVED: "model_training_completed",
    Decision.REJECTED: "model_training_completed",
    Decision.PROMOTED: "model_promoted",
    Decision.FAILED: "model_training_failed",
    Decision.INVALID: "model_training_invalid",
    Decision.VALIDATED: "model_validation_completed",
    Decision.SKIPPED: "model_training_skipped",
}

# Event ids are derived from the run's UUID, so even a second delivery of the same run
# (e.g. the runner syncing again after a crash) carries the same id.
_EVENT_NAMESPACE = uuid.UUID("6f1c8f64-3d0b-5c55-9f6e-2b1a4c9d7e30")


def event_name(decision: Decision) -> str:
    return EVENT_NAMES[decision]


def event_id_for(result: RunResult) -> str:
    """The run's event id: a UUID that is the same on every attempt for this run."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, result.run_uuid))


def build_event(result: RunResult, event_id: str) -> dict[str, Any]:
    """The event body: the seed's fields plus eventId, decision, promotion and provenance."""
    provenance = result.provenance
    return {
        "event": event_name(result.decision),
        "eventId": event_id,
        "timestamp": _iso(result.finished_at),
        "modelId": result.model_id,
        "trainingId": result.training_id,
        "versionId": result.version_id,
        "metrics": _metrics(result),
        "source": SOURCE,
        "decision": result.decision.value,
        "reason": result.reason,
        "promoted": result.promoted,
        "environment": result.promotion.environment,
        "productionVersionId": result.production.version_id if result.production else None,
        "mode": result.mode.value,
        "dataDiff": _data_diff(result.data_diff),
        "holdoutChanges": _holdout_changes(result.holdout_changes),
        "auditId": result.run_uuid,
        "provenance": {
            "repository": provenance.repository,
            "commit": provenance.commit,
            "ref": provenance.ref,
            "runId": provenance.run_id,
            "runAttempt": provenance.run_attempt,
        },
        "toolVersion": result.tool_version,
    }


def _metrics(result: RunResult) -> dict[str, Any] | None:
    metrics = result.metrics
    if metrics is None:
        return None
    return {
        "versionId": metrics.version_id,
        "f1": _number(metrics.f1),
        "precision": _number(metrics.precision),
        "recall": _number(metrics.recall),
        "accuracy": _number(metrics.accuracy),
        "macroF1": _number(metrics.macro_f1),
        "perIntent": [
            {
                "intent": score.intent,
                "precision": _number(score.precision),
                "recall": _number(score.recall),
                "f1": _number(score.f1),
                "support": score.support,
            }
            for score in metrics.per_intent
        ],
        # A combined target's members (cognigy-v2, several flow x locales); else empty.
        "targets": [
            {
                "id": score.id,
                "label": score.label,
                "f1": _number(score.f1),
                "accuracy": _number(score.accuracy),
                "macroF1": _number(score.macro_f1),
                "intentCount": score.intent_count,
                "setsCombined": list(score.sets_combined),
            }
            for score in metrics.targets
        ],
    }


def _data_diff(diff: DataDiff | None) -> dict[str, Any] | None:
    """The data diff's base commit and counts per file (the audit record has them per
    intent; neither holds an example text)."""
    if diff is None:
        return None
    return {
        "baseRef": diff.base_ref,
        "baseCommit": diff.base_commit,
        "unavailable": diff.unavailable,
        "datasets": [_file_counts(file) for file in diff.datasets],
        "holdout": _file_counts(diff.holdout) if diff.holdout is not None else None,
    }


def _holdout_changes(changes: HoldoutChanges | None) -> dict[str, int] | None:
    """How many holdout utterances flipped each way, and how many confusion pairs
    changed; the utterances themselves stay in the predictions file."""
    if changes is None:
        return None
    return {
        "utterances": len(changes.outcomes),
        "regressed": changes.regressed,
        "fixed": changes.fixed,
        "confusionPairsChanged": len(changes.confusions),
    }


def _file_counts(file: FileDiff) -> dict[str, Any]:
    return {
        "datasetId": file.dataset_id,
        "atBase": file.at_base,
        "intentsAdded": file.intents_added_count,
        "intentsRemoved": file.intents_removed_count,
        "intentsRenamed": file.intents_renamed_count,
        "intentsChanged": file.intents_changed_count,
        "examplesAdded": file.examples_added_count,
        "examplesRemoved": file.examples_removed_count,
        "examplesMoved": file.examples_moved_count,
    }


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()


def sendable_text(value: str) -> str:
    # A lone surrogate (e.g. a path read with surrogateescape) cannot be sent as UTF-8.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def serialise(event: dict[str, Any]) -> bytes:
    """The exact body bytes that are sent and signed."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


# --------------------------------------------------------------------------- signature


def sign(body: bytes, secret: str) -> str:
    """The signature header value for `body`: `sha256=<lowercase hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(body: bytes, header: str, secret: str) -> bool:
    """For receivers: True when `header` is the HMAC-SHA256 of the exact `body` bytes.

    Compares in constant time, so the answer time does not leak the expected digest.
    """
    if not header or not secret:
        return False
    scheme, _, digest = header.strip().partition("=")
    if scheme.strip().lower() != "sha256":
        return False
    expected = sign(body, secret).encode("ascii")
    given = ("sha256=" + digest.strip().lower()).encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)

"""What a 409 means for each call of the v1 contract, and what to do about it.

The status table (ci_trainer.http.status) can only say "conflict"; the fix depends on
the call. Only the train POST takes an Idempotency-Key, so only its 409 is about keys.
"""

from __future__ import annotations

from ci_trainer.http.status import StatusTexts

_CONFLICTS: dict[str, tuple[str, str]] = {
    "startTraining": (
        "the service refused the training request: its Idempotency-Key was used before "
        "with a different request body",
        "re-run the job: a new run sends a new key (nothing was started by this request)",
    ),
    "getTrainingMetrics": (
        "the service holds no metrics for this training yet (it answers 409 until the "
        "training is COMPLETED)",
        "the status said the training had ended; re-run, and report it to the service's "
        "support with the traceId if it happens again",
    ),
    "promoteVersion": (
        "the service refused to promote this version in its current state (another "
        "promotion in progress, or the version cannot be promoted)",
        "check the model's production version before re-running: this call did not "
        "change it, but another promotion may be under way",
    ),
    "cancelTraining": (
        "the training could not be cancelled in its current state (it has already ended)",
        "nothing to do: the training is no longer running",
    ),
}


def conflict_texts(operation_id: str) -> StatusTexts | None:
    """The status-table override for a 409 from `operation_id`, or None (the table's)."""
    conflict = _CONFLICTS.get(operation_id)
    return {409: conflict} if conflict else None

"""The production version: read before training, re-read before promoting (a concurrent
promotion blocks ours), and the promotion itself, confirmed when its answer was lost."""

from __future__ import annotations

from ci_trainer.backend_types import Promotion, PromotionStep, Target
from ci_trainer.backends.base import Backend
from ci_trainer.decision import Decision
from ci_trainer.errors import (
    ApiError,
    AuthError,
    CiTrainerError,
    ContractError,
    FeatureUnavailable,
    TrainingFailed,
)
from ci_trainer.pipeline.context import Ruling, StageContext, now
from ci_trainer.result import ProductionInfo, PromotionRecord

# After a promote whose answer was lost: re-read production after these waits.
CONFIRM_DELAYS_SECONDS = (0.25, 0.5, 1.0)
CONFIRM_STEP = "confirm by reading production"


def read_production(ctx: StageContext, backend: Backend, target: Target) -> None:
    """Remember production before training, to compare with and to detect a race."""
    with ctx.stage("Production version"):
        try:
            version = backend.production_version(target)
        except FeatureUnavailable:
            ctx.reporter.info("the service does not report the production version")
            return
        ctx.recorder.record(
            production=ProductionInfo(
                version_id=version.version_id if version else None,
                metrics=version.metrics if version else None,
                read_at=now(),
            )
        )
        ctx.reporter.info(f"production: {version.version_id if version else 'none yet'}")


def promote(ctx: StageContext, backend: Backend, target: Target, reasons: list[str]) -> Ruling:
    version_id = ctx.recorder.snapshot().version_id
    environment = ctx.config.promotion.environment
    with ctx.stage("Promote"):
        race = _production_changed(ctx, backend, target)
        if race is not None:
            return race
        if version_id is None:  # metrics always carry one; kept for the type checker
            msg = "the service gave no version id to promote"
            raise TrainingFailed(msg)
        promotion = _promote_or_confirm(ctx, backend, target, version_id, environment)
    record = PromotionRecord(
        attempted=True,
        promoted=promotion.promoted,
        version_id=promotion.version_id,
        environment=promotion.environment,
        steps=list(promotion.steps),
    )
    if promotion.steps and promotion.steps[-1].name == CONFIRM_STEP:
        record = record.model_copy(update={"message": promotion.steps[-1].detail})
    if not promotion.promoted:
        message = f"the service did not promote version {version_id} to {environment}"
        # A multi-step promotion (v2) says which step failed and why; that is the fix.
        failed_step = next((st for st in promotion.steps if st.status == "failed"), None)
        if failed_step is not None and failed_step.detail:
            named = f" {failed_step.id}" if failed_step.id else ""
            message += f": step '{failed_step.name}'{named} failed: {failed_step.detail}"
        ctx.recorder.record(promotion=record.model_copy(update={"message": message}))
        return Ruling(Decision.FAILED, message)
    ctx.recorder.record(promotion=record)
    ctx.reporter.info(f"promoted {version_id} to {environment}")
    return Ruling(
        Decision.PROMOTED,
        f"version {version_id} passed the gate and is now in {environment}",
        tuple(reasons),
    )


def _promote_or_confirm(
    ctx: StageContext, backend: Backend, target: Target, version_id: str, environment: str
) -> Promotion:
    """Promote; when the answer is lost, find out from production whether it happened.

    Promote is not repeated blindly (it is not idempotent everywhere), so a reset or
    timeout after the service applied it would otherwise end a successful promotion
    as `failed`. Production is re-read a few times; only our version there counts.
    """
    try:
        return backend.promote(target, version_id, environment)
    except ApiError as exc:
        if not _outcome_unknown(exc) or not _production_becomes(ctx, backend, target, version_id):
            raise
        detail = (
            f"the answer to the promote call was lost ({exc.message_text}); production "
            f"now shows version {version_id}, so the promotion took effect"
        )
        ctx.message("warning", detail, title="Promotion confirmed")
        return Promotion(
            version_id=version_id,
            environment=environment,
            promoted=True,
            steps=[PromotionStep(name=CONFIRM_STEP, status="done", id=version_id, detail=detail)],
        )


def _production_becomes(
    ctx: StageContext, backend: Backend, target: Target, version_id: str
) -> bool:
    for delay in CONFIRM_DELAYS_SECONDS:
        if ctx.stop.wait(delay):
            return False
        try:
            now_version = backend.production_version(target)
        except (FeatureUnavailable, CiTrainerError):
            return False
        if now_version is not None and now_version.version_id == version_id:
            return True
    return False


def _production_changed(ctx: StageContext, backend: Backend, target: Target) -> Ruling | None:
    """A `failed` ruling when production moved since it was read; None when it did not
    (or cannot be known)."""
    findings = ctx.recorder.snapshot()
    before = findings.production
    if before is None:
        ctx.message(
            "warning",
            "the service does not report the production version, so a concurrent "
            "promotion cannot be detected",
        )
        return None
    try:
        current = backend.production_version(target)
    except FeatureUnavailable:
        return None
    current_id = current.version_id if current else None
    if current_id == before.version_id:
        return None
    message = (
        f"production changed during this run (from {before.version_id or 'none'} "
        f"to {current_id or 'none'}); version {findings.version_id} was not promoted"
    )
    ctx.recorder.record(
        promotion=PromotionRecord(
            attempted=False,
            promoted=False,
            version_id=findings.version_id,
            environment=ctx.config.promotion.environment,
            message=message,
        )
    )
    ctx.message("error", message + "; re-run to compare against the new production")
    return Ruling(Decision.FAILED, message, (message,))


def _outcome_unknown(exc: ApiError) -> bool:
    """The call may have been applied: no answer, a server error, or an unreadable answer."""
    if isinstance(exc, AuthError):
        return False
    return exc.status is None or exc.status >= 500 or isinstance(exc, ContractError)

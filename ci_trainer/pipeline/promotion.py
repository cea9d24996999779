"""The production version: read before training, re-read before promoting (a concurrent
promotion blocks ours), and the promotion itself, reported only when production shows
it: a promote whose outcome is unknown is confirmed by re-reading production, and one
that stays unconfirmed says it may still take effect."""

from __future__ import annotations

import dataclasses

from ci_trainer.backend_types import ModelVersion, Promotion, PromotionStep, Target
from ci_trainer.backends.base import Backend
from ci_trainer.decision import Decision
from ci_trainer.errors import (
    ApiError,
    AuthError,
    CiTrainerError,
    ContractError,
    FeatureUnavailable,
    Interrupted,
    TrainingFailed,
)
from ci_trainer.http.service_text import service_text
from ci_trainer.pipeline.context import Ruling, StageContext, now
from ci_trainer.result import ProductionInfo, PromotionRecord

# After a promote whose outcome is unknown (no answer, a server or gateway error such as
# a 504, an answer production contradicts), production is re-read after each of these
# waits: a back-off that doubles from a quarter second up to 2 s. They add up to 5.75 s,
# within CONFIRM_WINDOW_SECONDS, which is less than the 7.5 s the runner leaves between
# SIGINT and SIGTERM; and a stop ends the window at once (the waits are the stop event's,
# and a read in flight ends within the HTTP client's stop grace).
CONFIRM_DELAYS_SECONDS = (0.25, 0.5, 1.0, 2.0, 2.0)
CONFIRM_WINDOW_SECONDS = 6.0
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
        # The failed step says what the service did: the answer it gave (v1), or which
        # step of a multi-step promotion failed and why (v2). That is the fix.
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
    """Promote; when the outcome is unknown, find out from production whether it happened.

    Promote is not repeated blindly (it is not idempotent everywhere), so a reset, a
    timeout or a gateway's 504 after the service applied it would otherwise end a
    successful promotion as `failed`. Production is re-read with back-off; only our
    version there counts.
    """
    try:
        return backend.promote(target, version_id, environment)
    except ApiError as exc:
        if not _outcome_unknown(exc):
            raise
        return _confirm(ctx, backend, target, version_id, environment, exc)


def _confirm(
    ctx: StageContext,
    backend: Backend,
    target: Target,
    version_id: str,
    environment: str,
    exc: ApiError,
) -> Promotion:
    """Our version in production within the window: promoted. Otherwise the promotion
    may still take effect, and the error says so and what to check before a re-run."""
    confirmed, seen = _watch_production(ctx, backend, target, version_id, environment)
    if confirmed:
        detail = (
            f"the outcome of the promote call was unknown ({exc.message_text}); production "
            f"now shows version {version_id}, so the promotion took effect"
        )
        ctx.message("warning", detail, title="Promotion confirmed")
        step = PromotionStep(name=CONFIRM_STEP, status="done", id=version_id, detail=detail)
        return Promotion(
            version_id=version_id, environment=environment, promoted=True, steps=[step]
        )
    unknown = (
        f"{exc.message_text}; the promotion of version {version_id} to {environment} may "
        f"still take effect: production {seen}"
    )
    hint = (
        f"check the production version of {target.label} before re-running: once it shows "
        f"version {version_id}, this promotion took effect, and a re-run would promote "
        "another model"
    )
    ctx.recorder.record(
        promotion=PromotionRecord(
            attempted=True,
            promoted=False,
            version_id=version_id,
            environment=environment,
            message=f"{unknown} ({hint})",
            steps=[PromotionStep(name=CONFIRM_STEP, status="unknown", detail=unknown)],
        )
    )
    # The service's own error, with what is known and what to do instead of its advice
    # (for a 5xx: "re-run later", which could promote a second model).
    raise dataclasses.replace(exc, message_text=unknown, hint_text=hint) from None


def _watch_production(
    ctx: StageContext, backend: Backend, target: Target, version_id: str, environment: str
) -> tuple[bool, str]:
    """(whether production came to show our version within the window, what it showed
    last in a sentence's words)."""
    seen = "was not read"
    waited = 0.0
    for delay in CONFIRM_DELAYS_SECONDS:
        if ctx.stop.wait(delay):
            return False, f"did not show it before the run was cancelled ({seen})"
        waited += delay
        try:
            current = backend.production_version(target)
        except FeatureUnavailable:
            return False, "cannot be read from this service"
        except Interrupted:
            return False, f"did not show it before the run was cancelled ({seen})"
        except CiTrainerError as error:
            seen = f"could not be read ({error.message})"
            continue
        if current is not None and current.shows(version_id, environment):
            return True, f"shows version {version_id}"
        seen = f"showed {_describe(current)}"
    return False, f"did not show it within {waited:g} s (it {seen})"


def _describe(version: ModelVersion | None) -> str:
    if version is None:
        return "no version"
    # Ids and names from the service, bounded like all its text.
    where = f" in {service_text(version.environment, limit=100)}" if version.environment else ""
    return f"version {service_text(version.version_id, limit=100)}{where}"


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

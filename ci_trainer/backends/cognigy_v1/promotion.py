"""A v1 promotion counts only when its answer and production both say so.

The promote answer names a version and an environment: when they are not the ones asked
for, the service did something else and the promotion is failed, saying what it did.
When they are, production is read back and must show the version; when it shows
another, the outcome is unknown (the change may still be on its way) and the pipeline's
confirmation window takes over (ci_trainer.pipeline.promotion).
"""

from __future__ import annotations

from collections.abc import Callable

from ci_trainer.backend_types import ModelVersion, Promotion, PromotionStep
from ci_trainer.backends.cognigy_v1.models import PromotionBody
from ci_trainer.errors import CiTrainerError, ContractError, FeatureUnavailable, Interrupted
from ci_trainer.http.service_text import service_text

READ_BACK_STEP = "read back production"
_ID_SHOWN = 100  # characters of an id from the service quoted in a message

ReadProduction = Callable[[], ModelVersion | None]


def checked_promotion(
    answer: PromotionBody,
    version_id: str,
    environment: str,
    read_production: ReadProduction,
    call: str,
) -> Promotion:
    """The Promotion the answer and production agree on; raises ContractError when the
    answer was right but production shows something else (the outcome is unknown)."""
    said_environment = answer.environment or environment  # absent: the one asked for
    if answer.version_id != version_id or said_environment != environment:
        return _contradicted(answer, version_id, environment, read_production)
    previous = answer.previous_version_id
    step = PromotionStep(
        name="promote",
        status="done",
        id=version_id,
        detail=f"previous version {service_text(previous, limit=_ID_SHOWN)}" if previous else None,
    )
    return Promotion(
        version_id=version_id,
        environment=environment,
        promoted=True,
        steps=[step, _read_back(version_id, environment, read_production, call)],
    )


def describe(version: ModelVersion | None) -> str:
    """What production shows, in a message's words."""
    if version is None:
        return "no version"
    where = (
        f" in {service_text(version.environment, limit=_ID_SHOWN)}" if version.environment else ""
    )
    return f"version {service_text(version.version_id, limit=_ID_SHOWN)}{where}"


def _read_back(
    version_id: str, environment: str, read_production: ReadProduction, call: str
) -> PromotionStep:
    asked = f"version {version_id} in {environment}"
    try:
        version = read_production()
    except FeatureUnavailable:
        return PromotionStep(
            name=READ_BACK_STEP,
            status="skipped",
            detail=f"the service does not report production; its promote answer named {asked}",
        )
    except Interrupted:
        # A cancelled run sends nothing more; the answer named what was asked for.
        return PromotionStep(
            name=READ_BACK_STEP,
            status="skipped",
            detail=f"not read back (the run was cancelled); the promote answer named {asked}",
        )
    if version is not None and version.shows(version_id, environment):
        return PromotionStep(
            name=READ_BACK_STEP, status="done", id=version_id, detail=f"production shows {asked}"
        )
    raise ContractError(
        call=call,
        message_text=f"the service answered that {asked} is promoted, but production "
        f"shows {describe(version)}",
        status=200,
        hint_text="the service's answer and its production version disagree",
    )


def _contradicted(
    answer: PromotionBody, version_id: str, environment: str, read_production: ReadProduction
) -> Promotion:
    said = service_text(answer.version_id, limit=_ID_SHOWN)
    said_in = service_text(answer.environment or environment, limit=_ID_SHOWN)
    detail = (
        f"the service answered that it promoted version {said} to {said_in}, not version "
        f"{version_id} to {environment}; production shows {_production_now(read_production)}"
    )
    return Promotion(
        version_id=version_id,
        environment=environment,
        promoted=False,
        steps=[PromotionStep(name="promote", status="failed", id=said, detail=detail)],
    )


def _production_now(read_production: ReadProduction) -> str:
    try:
        return describe(read_production())
    except CiTrainerError:
        return "nothing readable (the production version could not be read)"

"""The flow's intent threshold (C11) and what it does to a holdout prediction.

`GET /flows/{id}/settings` carries `intentThreshold: {lower, upper}` (RAC's flow settings
type; scores are 0..1). Cognigy's Thresholds page names them: `upper` is the confidence
threshold (above it an intent is taken as it is), `lower` the reconfirmation threshold
(between the two the bot asks the intent's confirmation sentence, or takes the intent
when it has none), and a top score below `lower` is "not found": the live bot maps no
intent. `nlu/scores` returns the raw scores, so a holdout scored without this counts hits
the bot would never make. Only below-`lower` becomes "no intent" here: a reconfirmed
intent is still that intent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ci_trainer.backend_types import Prediction
from ci_trainer.backends.cognigy_v2.wire import Score
from ci_trainer.errors import ContractError

SETTING = "cognigy_v2.apply_intent_threshold"


@dataclass(frozen=True)
class IntentThreshold:
    """One flow's thresholds: below `lower` no intent, below `upper` a reconfirmation."""

    lower: float
    upper: float


def parse_intent_threshold(flow_id: str, settings: dict[str, Any]) -> IntentThreshold | None:
    """The flow settings' `intentThreshold`; None when the answer carries none.

    A value that is not a number from 0 to 1, or a `lower` above `upper`, is refused: a
    threshold read wrong would silently move every holdout figure.
    """
    raw = settings.get("intentThreshold")
    if raw is None:
        return None
    values = raw if isinstance(raw, dict) else {}
    lower, upper = _fraction(values.get("lower")), _fraction(values.get("upper"))
    if lower is None or upper is None or lower > upper:
        raise ContractError(
            call="readFlowSettings",
            message_text=f"flow {flow_id}'s intentThreshold is {repr(raw)[:80]}; expected "
            "{lower, upper}, numbers from 0 to 1 with lower <= upper",
            hint_text="fix the flow's thresholds in Cognigy.AI (Settings > Configuration), "
            f"or set {SETTING}: false to score the holdout on raw scores",
        )
    return IntentThreshold(lower=lower, upper=upper)


def _fraction(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def prediction(scores: list[Score], threshold: IntentThreshold | None) -> Prediction:
    """The top score as the bot maps it: no intent below the threshold's `lower`."""
    top = scores[0] if scores else None
    if top is None:
        return Prediction(intent=None, threshold=threshold.lower if threshold else None)
    if threshold is None:
        return Prediction(intent=top.name, confidence=top.score)
    below = top.score < threshold.lower
    return Prediction(
        intent=None if below else top.name,
        confidence=top.score,
        threshold=threshold.lower,
        below_threshold=below,
    )

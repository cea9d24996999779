"""What the champion/challenger comparison found utterance by utterance on the holdout.

`HoldoutOutcome` is one utterance with both models' predictions; everything else here is
derived from a list of them, in one place (`ci_trainer.holdout_changes`), so the run's
summary and `ci-trainer explain` (which reads the outcomes back from the predictions
file) show the same figures.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Flip = Literal["regressed", "fixed"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HoldoutOutcome(_Model):
    """One holdout utterance: its gold intent and what each model predicted.

    An intent of None is no intent (e.g. a top score below the service's threshold);
    the score is the service's confidence in its top intent, when it gave one.
    """

    text: str
    expected: str
    candidate: str | None
    candidate_score: float | None = None
    production: str | None
    production_score: float | None = None
    # The gate found this utterance's intent significantly worse (recall or precision).
    flagged: bool = False

    @property
    def flip(self) -> Flip | None:
        """`regressed`: production right, the candidate wrong; `fixed`: the reverse."""
        candidate_right = self.candidate == self.expected
        production_right = self.production == self.expected
        if production_right and not candidate_right:
            return "regressed"
        if candidate_right and not production_right:
            return "fixed"
        return None


class IntentFlips(_Model):
    """One intent's utterances that flipped, the most telling first (the candidate's most
    confident mistakes, then holdout order)."""

    intent: str
    flagged: bool  # the gate found this intent significantly worse
    regressed: list[HoldoutOutcome] = Field(default_factory=list)
    fixed: list[HoldoutOutcome] = Field(default_factory=list)

    @property
    def net(self) -> int:
        return len(self.regressed) - len(self.fixed)


class ConfusionChange(_Model):
    """How often utterances of `expected` were taken for `predicted` (None: no intent)."""

    expected: str
    predicted: str | None
    production: int
    candidate: int

    @property
    def change(self) -> int:
        return self.candidate - self.production


class IntentF1(_Model):
    """One gold intent's F1 on the holdout, per model."""

    intent: str
    support: int
    candidate: float
    production: float

    @property
    def change(self) -> float:
        return self.candidate - self.production


class IntentRecall(_Model):
    """One gold intent's recall on the holdout, per model: the share of its utterances
    each model took for it."""

    intent: str
    support: int
    candidate: float
    production: float


class HoldoutChanges(_Model):
    """Every holdout outcome and what changed between production and the candidate."""

    outcomes: list[HoldoutOutcome]  # every utterance, in holdout order
    regressed: int  # utterances production got right and the candidate gets wrong
    fixed: int  # the reverse
    # Intents with flips: those the gate flagged first, then by net regressions.
    flips: list[IntentFlips] = Field(default_factory=list)
    # Every (expected, predicted) pair whose count changed, largest change first.
    confusions: list[ConfusionChange] = Field(default_factory=list)
    intent_f1: list[IntentF1] = Field(default_factory=list)  # every gold intent, by name
    intent_recall: list[IntentRecall] = Field(default_factory=list)  # likewise


class PredictionsFile(_Model):
    """Where a run wrote its holdout outcomes (JSON Lines), and the file's digest."""

    path: str
    sha256: str
    lines: int

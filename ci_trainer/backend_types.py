"""The words a training service and the pipeline share: targets, jobs, metrics, promotions.

The pipeline talks only to this interface. `cognigy-v1` (the seed's REST contract, also
served by the emulator) implements it first; `cognigy-v2` (Cognigy.AI REST API v2.0)
must fit without change, which shapes a few choices here:

- a run may train several `Target`s (v2: flow x locale); v1 has exactly one (the model);
- job states are normalised to `JobState`, the service's own word kept in `raw_status`;
- precision and recall are optional: a service that gives only an F-score leaves them
  None, and everything downstream says "not available" rather than inventing a number;
- promotion is a list of `PromotionStep`s (v2: snapshot, package, upload, restore).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Target(_Model):
    """One thing that gets trained: the model (v1), or a flow x locale (v2)."""

    id: str
    label: str


class AccessCheck(_Model):
    granted_scopes: list[str] = Field(default_factory=list)
    missing_scopes: list[str] = Field(default_factory=list)
    # What the user should hear once about how the service was reached (e.g. a base
    # URL the backend corrected); shown as notices.
    notices: list[str] = Field(default_factory=list)


class ServiceCopy(_Model):
    """A dataset as the service holds it for one of its targets, sentence by sentence
    (v2: a flow x locale's intents export, kept as a file so it can be restored)."""

    target: str
    sentences: dict[str, list[str]]  # intent name -> example sentences
    artifact: str | None = None  # where the backend kept the service's copy
    artifact_sha256: str | None = None
    training_out_of_date: bool | None = None


class DatasetStats(_Model):
    dataset_id: str
    example_count: int
    intent_count: int
    intent_distribution: dict[str, int]
    average_annotation_score: float | None = None
    # The sentences themselves, per target, when the service gives them (v2's exports);
    # the counts above are then the first copy's.
    copies: list[ServiceCopy] = Field(default_factory=list)


class TrainingRequest(_Model):
    dataset_ids: list[str]
    validation_split: float
    hyperparameters: dict[str, float | int]


class TrainingJob(_Model):
    target: Target
    training_id: str
    idempotency_key: str
    started_at: datetime


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


class JobStatus(_Model):
    state: JobState
    raw_status: str
    progress: float | None = Field(default=None, description="0..1 when the service says")
    message: str | None = None
    cpu_percent: float | None = None
    memory_percent: float | None = None
    retry_after_seconds: float | None = None
    # A Retry-After longer than the policy allows (the wait asked for, and the cap used
    # instead): the run says which wait it refused.
    refused_wait_seconds: float | None = None
    wait_limit_seconds: float | None = None
    # What the user should hear about a completed job (e.g. a target left untrained).
    notices: list[str] = Field(default_factory=list)


class IntentScore(_Model):
    intent: str
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int | None = None


class ConvergencePoint(_Model):
    epoch: int
    train_loss: float | None = None
    validation_f1: float | None = None


CombinedFigure = Literal["f1", "accuracy", "macro_f1"]


class TargetScore(_Model):
    """One member target's own figures, kept beside a combined target's metrics.

    A combined target's figures are each the lowest member's, so without these a
    reviewer sees that some flow x locale is weak but not which one, or by how much.
    """

    id: str
    label: str
    f1: float | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    intent_count: int = 0  # intents the service scored for this target
    # The combined figures that are this target's (it is the lowest, or tied for it).
    sets_combined: list[CombinedFigure] = Field(default_factory=list)


class EvalMetrics(_Model):
    """Metrics of one trained version as the service reports them (validation split).

    `targets` is filled only for a combined target (v2 with several flow x locales):
    each member's own figures. A single target's metrics are its own, so it stays empty.
    """

    version_id: str
    f1: float | None = None
    precision: float | None = None
    recall: float | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    per_intent: list[IntentScore] = Field(default_factory=list)
    convergence: list[ConvergencePoint] = Field(default_factory=list)
    targets: list[TargetScore] = Field(default_factory=list)


class ModelVersion(_Model):
    version_id: str
    promoted_at: datetime | None = None
    environment: str | None = None  # where the service says it is served, if it says

    def shows(self, version_id: str, environment: str) -> bool:
        """Whether this is `version_id` in `environment` (a version that names no
        environment is taken to be where it was asked to be)."""
        return self.version_id == version_id and self.environment in (None, environment)

    metrics: EvalMetrics | None = None


class Prediction(_Model):
    """The top intent of one text, as the service's live bot would take it.

    `threshold` is the service's own cut-off the prediction was held to, when it has one
    (Cognigy.AI: the flow's intent threshold); a top score below it is `below_threshold`,
    with `intent` None (the bot maps no intent) and `confidence` the raw top score.
    """

    intent: str | None
    confidence: float | None = None
    threshold: float | None = None
    below_threshold: bool = False


class PromotionStep(_Model):
    name: str
    status: str
    id: str | None = None
    detail: str | None = None


class Promotion(_Model):
    version_id: str
    environment: str
    promoted: bool
    steps: list[PromotionStep] = Field(default_factory=list)

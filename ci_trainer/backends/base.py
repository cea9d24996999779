"""The Backend interface: everything the pipeline may ask of a training service.

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
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Target(_Model):
    """One thing that gets trained: the model (v1), or a flow x locale (v2)."""

    id: str
    label: str


class Capabilities(_Model):
    """Optional parts of the contract this service offers (extensions may 404)."""

    cancel: bool = True
    production: bool = True
    predict: bool = True
    per_intent: bool = True
    precision_recall: bool = True
    predict_batch_limit: int = 100


class AccessCheck(_Model):
    granted_scopes: list[str] = Field(default_factory=list)
    missing_scopes: list[str] = Field(default_factory=list)


class DatasetStats(_Model):
    dataset_id: str
    example_count: int
    intent_count: int
    intent_distribution: dict[str, int]
    average_annotation_score: float | None = None


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
    metrics: EvalMetrics | None = None


class Prediction(_Model):
    intent: str | None
    confidence: float | None = None


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


class ExtensionUnavailable(Exception):
    """An optional endpoint (cancel, production, predict) answered 404 on this service."""


@runtime_checkable
class Backend(Protocol):
    """What the pipeline needs from a training service. Errors are `ApiError`s."""

    name: str

    def capabilities(self) -> Capabilities: ...

    def targets(self) -> list[Target]: ...

    def check_access(self) -> AccessCheck: ...

    def dataset_stats(self, dataset_id: str) -> DatasetStats: ...

    def production_version(self, target: Target) -> ModelVersion | None:
        """The version in production now, or None when there is none yet."""
        ...

    def training_payload(self, target: Target, request: TrainingRequest) -> dict[str, Any]:
        """What `start_training` sends for this request, in the service's own terms, for
        support tickets; known before sending, so a refused request still has it."""
        ...

    def start_training(
        self, target: Target, request: TrainingRequest, idempotency_key: str
    ) -> TrainingJob: ...

    def training_status(self, job: TrainingJob) -> JobStatus: ...

    def cancel_training(self, job: TrainingJob) -> bool:
        """True when the service accepted the cancel; False when it has no cancel."""
        ...

    def training_metrics(self, job: TrainingJob) -> EvalMetrics: ...

    def predict(self, target: Target, version_id: str, texts: Sequence[str]) -> list[Prediction]:
        """Top intent per text; raises ExtensionUnavailable when the service has none."""
        ...

    def promote(self, target: Target, version_id: str, environment: str) -> Promotion: ...

    def close(self) -> None: ...


JsonDict = dict[str, Any]

"""The Backend interface: everything the pipeline may ask of a training service.

The words both sides use (targets, jobs, metrics, promotions) live in
`ci_trainer.backend_types`, below everything that imports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ci_trainer.backend_types import (
    AccessCheck,
    DatasetStats,
    EvalMetrics,
    JobStatus,
    ModelVersion,
    Prediction,
    Promotion,
    Target,
    TrainingJob,
    TrainingRequest,
)


@runtime_checkable
class Backend(Protocol):
    """What the pipeline needs from a training service. Errors are `ApiError`s; an
    optional feature the service does not offer raises `errors.FeatureUnavailable`."""

    name: str

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
        """Top intent per text; raises FeatureUnavailable when the service has none."""
        ...

    def promote(self, target: Target, version_id: str, environment: str) -> Promotion: ...

    def warnings(self) -> list[str]:
        """What the service said about the last metrics that a user should act on (one
        sentence each); [] when it says nothing of the kind."""
        ...

    def close(self) -> None: ...


JsonDict = dict[str, Any]

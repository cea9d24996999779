"""`cognigy-v1`: the seed tutorial's REST contract behind the Backend interface.

A thin mapping over `client.TrainingClient`: one Target (the model), progress
percent -> 0..1, the contract's field names -> the interface's. The HTTP policy, auth and
contract checks all live in the client.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ci_trainer.backend_types import (
    AccessCheck,
    ConvergencePoint,
    DatasetStats,
    EvalMetrics,
    IntentScore,
    JobState,
    JobStatus,
    ModelVersion,
    Prediction,
    Promotion,
    Target,
    TrainingJob,
    TrainingRequest,
)
from ci_trainer.backends.cognigy_v1 import models as wire
from ci_trainer.backends.cognigy_v1.auth import REQUIRED_SCOPES
from ci_trainer.backends.cognigy_v1.client import PREDICT_MAX_TEXTS, TrainingClient, make_call
from ci_trainer.backends.cognigy_v1.promotion import checked_promotion
from ci_trainer.errors import ApiError, FeatureUnavailable
from ci_trainer.http.base_url import resolve_base_url
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.http.service_text import optional_service_text
from ci_trainer.redact import Redactor

if TYPE_CHECKING:
    from ci_trainer.settings import Settings

# The config's hyperparameter names (snake_case) -> the contract's (camelCase).
_HYPERPARAMETER_NAMES = {
    "epochs": "epochs",
    "batch_size": "batchSize",
    "learning_rate": "learningRate",
    "dropout": "dropout",
    "early_stopping_patience": "earlyStoppingPatience",
    "seed": "seed",
}


def training_body(request: TrainingRequest) -> dict[str, object]:
    """The POST /train body for a request (hyperparameter names in either case accepted)."""
    return {
        "datasetIds": list(request.dataset_ids),
        "validationSplit": request.validation_split,
        "hyperparameters": {
            _HYPERPARAMETER_NAMES.get(name, name): value
            for name, value in request.hyperparameters.items()
        },
    }


def job_status(status: wire.TrainingStatus, redactor: Redactor | None = None) -> JobStatus:
    usage = status.resource_utilization
    return JobStatus(
        state=JobState(status.status.lower()),
        raw_status=status.status,
        progress=None if status.progress is None else status.progress / 100.0,
        message=optional_service_text(status.message, redactor),
        cpu_percent=usage.cpu if usage else None,
        memory_percent=usage.memory if usage else None,
        retry_after_seconds=status.retry_after,
        refused_wait_seconds=status.refused_wait,
        wait_limit_seconds=status.wait_limit,
    )


def eval_metrics(metrics: wire.TrainingMetrics) -> EvalMetrics:
    macro = metrics.macro
    return EvalMetrics(
        version_id=metrics.version_id,
        f1=metrics.f1_score,
        precision=metrics.precision,
        recall=metrics.recall,
        accuracy=metrics.accuracy,
        macro_f1=macro.f1 if macro else None,
        per_intent=[
            IntentScore(
                intent=name,
                precision=scores.precision,
                recall=scores.recall,
                f1=scores.f1,
                support=scores.support,
            )
            for name, scores in sorted((metrics.per_intent or {}).items())
        ],
        convergence=[
            ConvergencePoint(
                epoch=point.epoch, train_loss=point.train_loss, validation_f1=point.validation_f1
            )
            for point in metrics.convergence_history
        ],
    )


def dataset_stats(dataset_id: str, stats: wire.DatasetStatsBody) -> DatasetStats:
    distribution = dict(stats.intent_distribution)
    return DatasetStats(
        dataset_id=stats.dataset_id or dataset_id,
        example_count=(
            stats.example_count if stats.example_count is not None else sum(distribution.values())
        ),
        intent_count=stats.intent_count if stats.intent_count is not None else len(distribution),
        intent_distribution=distribution,
        average_annotation_score=stats.average_annotation_score,
    )


class CognigyV1Backend:
    """The Backend for the v1 contract (the seed's service, and the embedded emulator)."""

    name = "cognigy-v1"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        model_id: str,
        redactor: Redactor,
        stop: threading.Event | None = None,
        policy: RetryPolicy | None = None,
        *,
        budget: RequestBudget | None = None,
        wait: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.model_id = model_id
        self._client = TrainingClient(
            base_url,
            client_id,
            client_secret,
            redactor=redactor,
            stop=stop,
            policy=policy,
            budget=budget,
            wait=wait,
            rng=rng,
        )
        # Extensions found missing (404): asked again, they answer at once without a request.
        self._absent: dict[str, FeatureUnavailable] = {}
        # Extensions that answered once: a later 404 from one of them is an error about
        # what was asked (a version, a training), never "this service has no such endpoint".
        self._present: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        model_id: str,
        redactor: Redactor,
        stop: threading.Event | None = None,
        policy: RetryPolicy | None = None,
    ) -> CognigyV1Backend:
        """The backend for a run's settings (BaseUrlError when no service is configured)."""
        if not (settings.client_id and settings.client_secret):
            msg = "no credentials: the registry builds a backend only when missing_credentials is empty"
            raise ValueError(msg)
        base_url = resolve_base_url(settings.tenant, settings.base_url)
        return cls(
            base_url,
            settings.client_id,
            settings.client_secret,
            model_id,
            redactor,
            stop,
            policy,
        )

    @property
    def client(self) -> TrainingClient:
        return self._client

    def targets(self) -> list[Target]:
        return [Target(id=self.model_id, label=f"model {self.model_id}")]

    def check_access(self) -> AccessCheck:
        granted = self._client.token().scopes
        if granted is None:  # RFC 6749: no `scope` in the answer means "as requested"
            return AccessCheck(granted_scopes=list(self._client.auth.requested_scopes))
        return AccessCheck(
            granted_scopes=sorted(granted),
            missing_scopes=[scope for scope in REQUIRED_SCOPES if scope not in granted],
        )

    def dataset_stats(self, dataset_id: str) -> DatasetStats:
        return dataset_stats(dataset_id, self._client.dataset_stats(dataset_id))

    def production_version(self, target: Target) -> ModelVersion | None:
        with self._noting_absence("production"):
            version = self._client.production_version(target.id)
        if version.version_id is None:
            return None
        return ModelVersion(
            version_id=version.version_id,
            promoted_at=version.promoted_at,
            environment=version.environment,
            metrics=eval_metrics(version.metrics) if version.metrics else None,
        )

    def training_payload(self, target: Target, request: TrainingRequest) -> dict[str, object]:
        return training_body(request)

    def start_training(
        self, target: Target, request: TrainingRequest, idempotency_key: str
    ) -> TrainingJob:
        started = self._client.start_training(
            target.id, training_body(request), idempotency_key=idempotency_key
        )
        return TrainingJob(
            target=target,
            training_id=started.training_id,
            idempotency_key=idempotency_key,
            started_at=started.created_at or datetime.now(timezone.utc),
        )

    def training_status(self, job: TrainingJob) -> JobStatus:
        status = self._client.training_status(job.target.id, job.training_id)
        return job_status(status, self._client.redactor)

    def cancel_training(self, job: TrainingJob) -> bool:
        try:
            with self._noting_absence("cancel"):
                self._client.cancel_training(job.target.id, job.training_id)
        except FeatureUnavailable:
            return False
        return True

    def training_metrics(self, job: TrainingJob) -> EvalMetrics:
        return eval_metrics(self._client.training_metrics(job.target.id, job.training_id))

    def predict(self, target: Target, version_id: str, texts: Sequence[str]) -> list[Prediction]:
        predictions: list[Prediction] = []
        with self._noting_absence("predict"):
            for start in range(0, len(texts), PREDICT_MAX_TEXTS):
                batch = texts[start : start + PREDICT_MAX_TEXTS]
                answer = self._client.predict(target.id, version_id, batch)
                predictions.extend(
                    Prediction(intent=p.intent, confidence=p.confidence) for p in answer.predictions
                )
        return predictions

    def promote(self, target: Target, version_id: str, environment: str) -> Promotion:
        """Promote, then hold the answer to what was asked and read production back."""
        answer = self._client.promote(target.id, version_id, environment)
        call = make_call("promoteVersion", modelId=target.id, versionId=version_id).label
        return checked_promotion(
            answer, version_id, environment, lambda: self.production_version(target), call
        )

    def warnings(self) -> list[str]:
        # The v1 contract reports figures only, no advice about them.
        return []

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _noting_absence(self, feature: str) -> Iterator[None]:
        """Remember `feature` as absent when its endpoint raises FeatureUnavailable, and
        raise the same at once when it is asked for again; but once the endpoint has
        answered, a 404 from it is an ApiError about the call, not a missing feature."""
        if feature in self._absent:
            raise self._absent[feature]
        try:
            yield
        except FeatureUnavailable as absent:
            if feature not in self._present:
                self._absent[feature] = absent
                raise
            msg = f"{absent} (it answered earlier in this run, so what it was asked for is unknown)"
            raise ApiError(
                call=feature,
                message_text=msg,
                status=404,
                hint_text="check the id the service reported; the run did not treat the "
                f"{feature} endpoint as missing",
            ) from None
        self._present.add(feature)

"""Typed response bodies of the v1 contract (field names as the wire has them, in snake_case).

Bodies are checked against openapi.yaml first (jsonschema) and only then parsed here, so
these models need not repeat the bounds; they give the rest of the code typed fields.
Unknown fields are ignored: a newer service may add some. Models defer building their
validators to first use, which keeps importing the client cheap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

TrainingStatusValue = Literal["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
TRAINING_STATUS_VALUES: tuple[str, ...] = get_args(TrainingStatusValue)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class WireModel(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        alias_generator=_camel,
        populate_by_name=True,
        defer_build=True,
    )


class Token(WireModel):
    # OAuth2 field names are snake_case on the wire.
    access_token: str = Field(alias="access_token", repr=False)
    expires_in: float = Field(alias="expires_in")
    token_type: str | None = Field(default=None, alias="token_type")
    scope: str | None = Field(default=None, alias="scope")

    @property
    def scopes(self) -> frozenset[str] | None:
        """Granted scopes; None when the service did not say (RFC 6749: as requested)."""
        return None if self.scope is None else frozenset(self.scope.split())


class DatasetStatsBody(WireModel):
    intent_distribution: dict[str, int]
    dataset_id: str | None = None
    average_annotation_score: float | None = None
    example_count: int | None = None
    intent_count: int | None = None


class TrainingStarted(WireModel):
    training_id: str
    model_id: str | None = None
    status: TrainingStatusValue | None = None
    created_at: datetime | None = None


class ResourceUtilization(WireModel):
    cpu: float | None = None
    memory: float | None = None


class TrainingStatus(WireModel):
    training_id: str
    status: TrainingStatusValue
    progress: float | None = None
    resource_utilization: ResourceUtilization | None = None
    message: str | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    # Not part of the body: the client sets it from the response's Retry-After header.
    retry_after: float | None = Field(default=None, exclude=True)
    refused_wait: float | None = Field(default=None, exclude=True)  # past the cap
    wait_limit: float | None = Field(default=None, exclude=True)


class ConvergencePointBody(WireModel):
    epoch: int
    train_loss: float | None = None
    validation_f1: float | None = None


class IntentMetrics(WireModel):
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int | None = None


class AggregateMetrics(WireModel):
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None


class TrainingMetrics(WireModel):
    version_id: str
    f1_score: float
    precision: float
    recall: float
    training_id: str | None = None
    accuracy: float | None = None
    macro: AggregateMetrics | None = None
    convergence_history: list[ConvergencePointBody] = Field(default_factory=list)
    per_intent: dict[str, IntentMetrics] | None = None


class ProductionVersion(WireModel):
    version_id: str | None
    model_id: str | None = None
    environment: str | None = None
    promoted_at: datetime | None = None
    metrics: TrainingMetrics | None = None


class PredictionBody(WireModel):
    intent: str | None
    text: str | None = None
    confidence: float | None = None


class PredictResponse(WireModel):
    predictions: list[PredictionBody]
    version_id: str | None = None


class PromotionBody(WireModel):
    version_id: str
    model_id: str | None = None
    environment: str | None = None
    promoted_at: datetime | None = None
    previous_version_id: str | None = None

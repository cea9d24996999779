"""The training config (`training-config.yaml`, `version: 1`) as typed models.

Field names are the YAML keys. Secrets never appear here: the webhook and credentials
are named by the environment variables that hold them. Bounds on hyperparameters are
the training service's (the seed's `TrainingConfig`), so a bad value is caught before
the service answers 400.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ci_trainer.config.cognigy_v2 import BackendSection, CognigyV2Section, missing_section_error


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Section):
    """The model on the training service."""

    id: str = Field(
        min_length=1,
        description="Model id on the training service; the COGNIGY_MODEL_ID env var overrides it.",
    )


class DatasetRef(_Section):
    id: str = Field(min_length=1, description="Dataset id on the training service.")
    path: str | None = Field(
        default=None,
        description="Committed file with the same data (YAML, Cognigy intent CSV or JSON, or "
        "text,category CSV), "
        "relative to the config file. Enables the local checks and the service/git mismatch check.",
    )


class HoldoutSection(_Section):
    path: str = Field(
        description="Committed holdout file (same formats as datasets), relative to the config file. "
        "Used for the leakage check and the champion/challenger comparison."
    )


class ValidationSection(_Section):
    max_imbalance_ratio: float = Field(
        default=5.0,
        ge=1.0,
        description="Highest allowed ratio of the largest intent's example count to the smallest's.",
    )
    min_annotation_score: float = Field(
        default=0.85,
        ge=0.0,
        le=1.0,
        description="Lowest allowed average annotation score (skipped when the data has no scores).",
    )
    min_examples_per_intent: int = Field(
        default=10, ge=1, description="Every intent needs at least this many examples."
    )
    fail_on_label_conflicts: bool = Field(
        default=True,
        description="The same (normalised) utterance under two intents fails the gate; "
        "false makes it a warning.",
    )
    fail_on_holdout_leakage: bool = Field(
        default=True,
        description="Holdout utterances found in the training data fail the gate; "
        "false makes it a warning.",
    )
    fail_on_service_mismatch: bool = Field(
        default=False,
        description="Service stats that differ from the committed file fail the gate (else a warning).",
    )
    max_duplicate_examples: int = Field(
        default=0,
        ge=0,
        description="Most examples allowed whose exact text their intent already has "
        "(across all committed files); above it the gate fails.",
    )


class Hyperparameters(_Section):
    epochs: int = Field(default=50, ge=10, le=500, description="Training epochs.")
    batch_size: int = Field(default=32, ge=8, le=128, description="Examples per batch.")
    learning_rate: float = Field(default=0.001, gt=0.0, le=0.1, description="Optimizer step size.")
    dropout: float = Field(default=0.3, ge=0.0, le=0.8, description="Dropout rate.")
    early_stopping_patience: int = Field(
        default=5, ge=1, le=20, description="Epochs without improvement before training stops."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        description="Extension: fixes the training seed where the service supports it.",
    )


class RetryOnFailure(_Section):
    attempts: int = Field(
        default=0, ge=0, le=3, description="Extra trainings after a FAILED one (0 = off)."
    )
    batch_size_factor: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="Batch size multiplier per retry."
    )


class TrainingSection(_Section):
    validation_split: float = Field(
        default=0.2,
        ge=0.1,
        le=0.5,
        description="Share of the data the service holds out to compute the candidate's metrics.",
    )
    hyperparameters: Hyperparameters = Field(
        default_factory=Hyperparameters, description="Sent to the service as given."
    )
    poll_interval_floor_seconds: float = Field(
        default=10.0,
        ge=0.1,
        le=300,
        description="Never poll the status faster than this (10 s advised for tenants).",
    )
    timeout_minutes: float = Field(
        default=60.0, gt=0, le=24 * 60, description="Cancel the remote job after this long."
    )
    retry_on_failure: RetryOnFailure = Field(
        default_factory=RetryOnFailure,
        description="Retry a FAILED training with a smaller batch size (off by default).",
    )


class PerIntentGate(_Section):
    min_f1: float = Field(ge=0.0, le=1.0, description="Lowest F1 allowed for any single intent.")
    min_support: int = Field(
        default=5, ge=1, description="Intents with fewer validation examples are not judged."
    )


class ChampionGate(_Section):
    enabled: bool = Field(
        default=True,
        description="Compare the candidate with production on the holdout set (needs `holdout`).",
    )
    margin: float = Field(
        default=0.01, ge=0.0, le=0.5, description="Non-inferiority margin on macro-F1."
    )
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1.0, description="Confidence level of the bootstrap interval."
    )
    alpha: float = Field(
        default=0.05,
        gt=0.0,
        lt=0.5,
        description="Significance level for McNemar and per-intent tests.",
    )
    bootstrap_samples: int = Field(
        default=2000, ge=200, le=100_000, description="Paired bootstrap resamples."
    )
    seed: int = Field(
        default=20240601, ge=0, description="Random seed, so a rerun gives the same interval."
    )
    min_support: int = Field(
        default=10,
        ge=1,
        description="Intents with fewer holdout examples are not tested for recall, nor for precision unless a model predicted them at least this often.",
    )


class GateSection(_Section):
    min_f1: float | None = Field(
        default=0.85, ge=0.0, le=1.0, description="Lowest candidate F1; null disables the rule."
    )
    min_precision: float | None = Field(
        default=0.80,
        ge=0.0,
        le=1.0,
        description="Lowest candidate precision; null disables the rule.",
    )
    min_recall: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Lowest candidate recall; null (the default) disables the rule.",
    )
    per_intent: PerIntentGate | None = Field(
        default=None, description="Per-intent F1 floor, judged where the service reports it."
    )
    champion: ChampionGate = Field(
        default_factory=ChampionGate,
        description="Champion/challenger comparison against the production model.",
    )


class PromotionSection(_Section):
    environment: str = Field(
        default="production",
        min_length=1,
        description="Environment a passing model is promoted to.",
    )


class WebhookSection(_Section):
    url_env: str = Field(
        default="WEBHOOK_URL",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Env var holding the URL.",
    )
    secret_env: str = Field(
        default="WEBHOOK_SECRET",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Env var holding the HMAC secret.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one delivery attempt."
    )


class AuditSection(_Section):
    path: str = Field(
        default="cognigy_training_audit.log",
        min_length=1,
        description="JSON Lines audit log, relative to the config file; one record is appended per run.",
    )
    governance_tags: list[str] = Field(
        # A plain default (pydantic copies it per instance) so the schema shows it.
        default=["automated", "api_triggered", "threshold_validated"],
        description="Tags written into every audit record.",
    )


class TrainingConfig(_Section):
    """Root of `training-config.yaml`."""

    version: Literal[1] = Field(description="Config format version; this release reads 1.")
    backend: Literal["cognigy-v1", "cognigy-v2"] = Field(
        default="cognigy-v1",
        description="Training service contract: `cognigy-v1` (the v1 REST contract in docs/contract.md) or "
        "`cognigy-v2` (Cognigy.AI REST API v2.0; needs the `cognigy_v2` section).",
    )
    model: ModelSection = Field(description="The model to train.")
    datasets: list[DatasetRef] = Field(
        min_length=1, description="Datasets the model is trained on."
    )
    holdout: HoldoutSection | None = Field(
        default=None, description="Committed holdout set; never sent for training."
    )
    validation: ValidationSection = Field(
        default_factory=ValidationSection, description="The dataset gate, checked before training."
    )
    training: TrainingSection = Field(
        default_factory=TrainingSection, description="How the candidate is trained and waited for."
    )
    gate: GateSection = Field(
        default_factory=GateSection, description="Thresholds the candidate must meet."
    )
    promotion: PromotionSection = Field(
        default_factory=PromotionSection,
        description="Where a passing candidate goes (mode promote).",
    )
    webhook: WebhookSection = Field(
        default_factory=WebhookSection,
        description="Registry sync; sent only when the URL env var is set.",
    )
    audit: AuditSection = Field(default_factory=AuditSection, description="The audit log.")
    cognigy_v2: CognigyV2Section | None = Field(
        default=None,
        description="Project, flow x locale targets and snapshot promotion for backend "
        "`cognigy-v2` (docs/cognigy-v2.md).",
    )

    @model_validator(mode="after")
    def _backend_has_its_section(self) -> TrainingConfig:
        """A backend with a section of its own name (dashes as underscores) needs it, and
        the section's rules across the config apply; no backend name is spelled here."""
        name = self.backend.replace("-", "_")
        info = type(self).model_fields.get(name)
        if info is None:
            return self
        section = getattr(self, name)
        if section is None:
            raise missing_section_error(self.backend, name, _section_model(info.annotation))
        if isinstance(section, BackendSection):
            section.check_across({ref.id: ref.path for ref in self.datasets})
        return self


def _section_model(annotation: object) -> type[BaseModel]:
    """The section model in a field's `Section | None` annotation."""
    for member in get_args(annotation):
        if isinstance(member, type) and issubclass(member, BackendSection):
            return member
    msg = f"{annotation} names no backend section model"
    raise TypeError(msg)

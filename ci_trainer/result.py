"""RunResult: the one record of a run that report, outputs, audit and webhook all read.

Nothing downstream recomputes a figure: if the summary shows it, it is a field here.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ci_trainer.backend_types import ConvergencePoint, EvalMetrics, IntentScore, PromotionStep
from ci_trainer.data_diff_types import DataDiff
from ci_trainer.decision import Decision
from ci_trainer.holdout_types import HoldoutChanges, PredictionsFile


class Mode(str, enum.Enum):
    VALIDATE = "validate"
    TRAIN = "train"
    PROMOTE = "promote"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Provenance(_Model):
    """Who and what triggered the run (GITHUB_* when present)."""

    repository: str | None = None
    commit: str | None = None
    ref: str | None = None
    event: str | None = None
    actor: str | None = None
    workflow: str | None = None
    run_id: str | None = None
    run_attempt: str | None = None
    server_url: str | None = None


class CheckStatus(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"  # failed, but configured not to block
    SKIPPED = "skipped"  # could not be evaluated (e.g. no annotation scores)


class Location(_Model):
    """One place in a dataset file that a check points at, and what is wrong there."""

    file: str
    line: int | None = None
    text: str


class CheckResult(_Model):
    """One dataset quality check: what was measured against what."""

    check: str
    dataset_id: str | None
    status: CheckStatus
    value: float | int | str | None = None
    threshold: float | int | str | None = None
    message: str
    details: list[str] = Field(default_factory=list)
    # The offending examples with their file and line (the first few; `value` counts all).
    locations: list[Location] = Field(default_factory=list)


class DatasetRecord(_Model):
    id: str
    path: str | None = None
    sha256: str | None = None
    example_count: int | None = None
    intent_count: int | None = None
    intent_distribution: dict[str, int] = Field(default_factory=dict)
    average_annotation_score: float | None = None
    service_example_count: int | None = None
    service_intent_count: int | None = None


class SentenceChanges(_Model):
    """One intent whose example sentences an import of the committed file changes."""

    intent: str
    added: list[str] = Field(default_factory=list)  # the first few; the counts say how many
    removed: list[str] = Field(default_factory=list)
    added_count: int = 0
    removed_count: int = 0


class ServiceExport(_Model):
    """A target's data as the service held it before this run changed it (v2: the flow x
    locale's intents export, kept as a file that restores it), and what importing the
    committed file adds, changes and deletes there. Name lists are bounded; the counts
    are whole."""

    dataset_id: str
    target: str
    path: str | None = None
    sha256: str | None = None
    intent_count: int = 0
    example_count: int = 0
    training_out_of_date: bool | None = None
    intents_added: list[str] = Field(default_factory=list)
    intents_deleted: list[str] = Field(default_factory=list)
    intents_changed: list[SentenceChanges] = Field(default_factory=list)
    intents_added_count: int = 0
    intents_deleted_count: int = 0
    intents_changed_count: int = 0

    @property
    def differs(self) -> bool:
        return bool(
            self.intents_added_count or self.intents_deleted_count or self.intents_changed_count
        )


class GateRule(_Model):
    """One rule of the promotion gate and how the candidate fared."""

    rule: str
    passed: bool
    value: float | None = None
    threshold: float | None = None
    message: str


class IntentChange(_Model):
    """One intent's holdout recall, candidate vs production, and its paired exact test."""

    intent: str
    support: int  # holdout examples whose gold label is this intent
    candidate_recall: float
    production_recall: float
    candidate_only: int  # candidate right, production wrong (on this intent's examples)
    production_only: int  # production right, candidate wrong
    p_value: float  # exact McNemar, two-sided
    p_adjusted: float  # Holm-adjusted across the tested intents
    significant: bool  # p_adjusted < alpha


class PrecisionChange(_Model):
    """One intent's holdout precision, candidate vs production, and its paired exact test
    (see `ci_trainer.intent_tests`)."""

    intent: str
    candidate_predicted: int  # holdout utterances the candidate predicted as this intent
    production_predicted: int
    candidate_precision: float | None  # None: never predicted this intent (then not tested)
    production_precision: float | None
    candidate_only_wrong: int  # predicted as this intent by the candidate alone, wrongly
    production_only_wrong: int  # by production alone, wrongly
    p_value: float  # exact randomisation test, two-sided
    p_adjusted: float  # Holm-adjusted with the recall tests
    significant: bool  # p_adjusted < alpha


class ChampionComparison(_Model):
    """Candidate vs production on the committed holdout set."""

    holdout_path: str
    holdout_sha256: str
    n: int
    candidate_version_id: str
    production_version_id: str
    candidate_macro_f1: float
    production_macro_f1: float
    candidate_accuracy: float
    production_accuracy: float
    diff_macro_f1: float  # candidate - production, macro-F1 over the holdout's gold intents
    ci_low: float  # paired bootstrap percentile interval of diff_macro_f1
    ci_high: float
    confidence: float
    bootstrap_samples: int
    seed: int
    mcnemar_candidate_only: int  # candidate right, production wrong
    mcnemar_production_only: int  # production right, candidate wrong
    mcnemar_p: float  # exact McNemar, two-sided
    margin: float
    intents_worse: list[str] = Field(default_factory=list)
    intents_better: list[str] = Field(default_factory=list)
    verdict: str  # "better", "no significant change", "worse"
    # The `verdict` output: better, worse, no-significant-change, or inconclusive (no
    # significant change, but a loss beyond the margin is not ruled out: a hold).
    conclusion: str | None = None
    sentence: str
    alpha: float | None = None  # significance level of McNemar and the per-intent tests
    # Recall: intents with fewer holdout examples were not tested; precision: intents
    # predicted for fewer holdout utterances by both models.
    min_support: int | None = None
    intent_changes: list[IntentChange] = Field(default_factory=list)  # every tested intent
    # Precision per intent, Holm-adjusted together with the recall tests above: a
    # candidate that makes one intent a catch-all loses that intent's precision.
    precision_changes: list[PrecisionChange] = Field(default_factory=list)
    precision_worse: list[str] = Field(default_factory=list)
    precision_better: list[str] = Field(default_factory=list)
    # The service's cut-off for a top score when the predictions were held to it (the
    # live bot maps a score below it to no intent), and how many fell below it per side.
    score_threshold: float | None = None
    candidate_below_threshold: int | None = None
    production_below_threshold: int | None = None
    # What production's predictions ran against (e.g. the working copy that holds the
    # snapshot the endpoint serves), when the backend says.
    production_scored_on: str | None = None


class TrainingAttempt(_Model):
    attempt: int
    training_id: str
    idempotency_key: str
    batch_size: int | None = None
    status: str
    message: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    status_requests: int = 0


class ResourceUsage(_Model):
    samples: int = 0
    peak_cpu_percent: float | None = None
    peak_memory_percent: float | None = None
    last_cpu_percent: float | None = None
    last_memory_percent: float | None = None


class ProductionInfo(_Model):
    version_id: str | None
    metrics: EvalMetrics | None = None
    read_at: datetime | None = None
    scored_on: str | None = None  # what its predictions run against, as the backend says
    unscorable: str | None = None  # why it cannot be scored (e.g. a served snapshot)


class PromotionRecord(_Model):
    attempted: bool
    promoted: bool
    version_id: str | None = None
    environment: str | None = None
    steps: list[PromotionStep] = Field(default_factory=list)
    message: str | None = None


class WebhookDelivery(_Model):
    attempted: bool
    delivered: bool = False
    event_id: str | None = None
    target: str | None = None  # scheme://host[:port]/path, never query or userinfo
    status_code: int | None = None
    attempts: int = 0
    signed: bool = False
    error: str | None = None


class PullRequestComment(_Model):
    """What the sticky pull request comment did (ci_trainer.pr_comment); never the token
    nor the comment's text."""

    outcome: str  # "created", "updated", "failed" or "skipped"
    pull_request: int | None = None
    comment_id: int | None = None
    url: str | None = None
    status_code: int | None = None  # GitHub's answer to the call that failed
    error: str | None = None  # why it failed or was skipped, one line


class SupportInfo(_Model):
    """What a support ticket needs when a 5xx ends the run. Redacted."""

    endpoint: str
    status: int | None = None
    trace_id: str | None = None
    response_body: str | None = None
    dataset_ids: list[str] = Field(default_factory=list)
    request_payload: dict[str, Any] | None = None


class ErrorInfo(_Model):
    type: str
    message: str


class Message(_Model):
    """A notice/warning/error to show the user, optionally pointing into a file."""

    level: str  # "notice" | "warning" | "error"
    text: str
    title: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None


class RunResult(_Model):
    """Frozen: built once by the lifecycle (`ci_trainer.run`), then only copied with
    `model_copy(update=...)` as the webhook and the audit log record what they did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = 1
    run_uuid: str
    tool_version: str
    backend: str
    mode: Mode
    decision: Decision
    reason: str  # the one sentence that matters
    reasons: list[str] = Field(default_factory=list)
    started_at: datetime
    finished_at: datetime
    duration_seconds: float

    model_id: str | None = None
    target: str | None = None
    config_path: str | None = None
    config_sha256: str | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance = Field(default_factory=Provenance)

    datasets: list[DatasetRecord] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    # The committed datasets and holdout compared with the base's (None: no base asked
    # for); computed in every mode, never part of the decision.
    data_diff: DataDiff | None = None
    # What the service held before this run imported into it (v2's intents exports).
    service_exports: list[ServiceExport] = Field(default_factory=list)

    status: str | None = None  # the service's final training status, e.g. COMPLETED
    training_id: str | None = None
    version_id: str | None = None
    attempts: list[TrainingAttempt] = Field(default_factory=list)
    training_seconds: float | None = None
    resources: ResourceUsage = Field(default_factory=ResourceUsage)

    metrics: EvalMetrics | None = None
    weakest_intents: list[IntentScore] = Field(default_factory=list)
    convergence: list[ConvergencePoint] = Field(default_factory=list)
    production: ProductionInfo | None = None
    gate: list[GateRule] = Field(default_factory=list)
    champion: ChampionComparison | None = None
    champion_note: str | None = None  # why the comparison was skipped, when it was
    held: bool = False  # rejected only because the holdout cannot rule out a loss
    # The comparison utterance by utterance: every outcome (for the predictions file; the
    # audit record keeps only the counts) and what flipped, grew or moved.
    holdout_changes: HoldoutChanges | None = None
    # Where those outcomes were written (JSON Lines next to the audit log).
    predictions_file: PredictionsFile | None = None

    promotion: PromotionRecord = Field(
        default_factory=lambda: PromotionRecord(attempted=False, promoted=False)
    )
    webhook: WebhookDelivery = Field(default_factory=lambda: WebhookDelivery(attempted=False))
    support: SupportInfo | None = None
    error: ErrorInfo | None = None
    messages: list[Message] = Field(default_factory=list)

    # Filled in by the lifecycle after the audit record is appended (the record cannot hold
    # its own location or hash).
    audit_log: str | None = None
    audit_hash: str | None = None
    audit_error: str | None = None
    # Filled in by the action after the summary, the outputs and the audit record are
    # written (a comment that cannot be sent must not hold them up or change them).
    pr_comment: PullRequestComment | None = None

    @property
    def exit_code(self) -> int:
        return self.decision.exit_code

    @property
    def promoted(self) -> bool:
        return self.promotion.promoted

"""What the pipeline's stages found, and the verdict a run of them returns.

The stages run in a worker thread while the lifecycle waits on the main thread, and a
stage that raises must not lose what the stages before it found. So the pipeline keeps
its findings in a `Recorder`: each change replaces the frozen `Findings` whole (nothing
in it is changed in place), and the lifecycle may read a consistent snapshot at any
time - after the pipeline returned, after it raised, or while it is still stuck in a
request after a stop.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ci_trainer.backend_types import ConvergencePoint, EvalMetrics, IntentScore
from ci_trainer.data_diff_types import DataDiff
from ci_trainer.decision import Decision
from ci_trainer.holdout_types import HoldoutChanges
from ci_trainer.result import (
    ChampionComparison,
    CheckResult,
    DatasetRecord,
    GateRule,
    Message,
    ProductionInfo,
    PromotionRecord,
    ResourceUsage,
    ServiceExport,
    TrainingAttempt,
)


class Findings(BaseModel):
    """Everything the stages found so far; the RunResult fields of the same names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str | None = None
    datasets: list[DatasetRecord] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    data_diff: DataDiff | None = None
    service_exports: list[ServiceExport] = Field(default_factory=list)
    production: ProductionInfo | None = None
    status: str | None = None
    training_id: str | None = None
    version_id: str | None = None
    attempts: list[TrainingAttempt] = Field(default_factory=list)
    training_seconds: float | None = None
    resources: ResourceUsage = Field(default_factory=ResourceUsage)
    metrics: EvalMetrics | None = None
    weakest_intents: list[IntentScore] = Field(default_factory=list)
    convergence: list[ConvergencePoint] = Field(default_factory=list)
    gate: list[GateRule] = Field(default_factory=list)
    champion: ChampionComparison | None = None
    champion_note: str | None = None
    holdout_changes: HoldoutChanges | None = None
    held: bool = False
    promotion: PromotionRecord = Field(
        default_factory=lambda: PromotionRecord(attempted=False, promoted=False)
    )
    messages: list[Message] = Field(default_factory=list)
    # The last POST /train body in the contract's words, for a support ticket; not a
    # RunResult field.
    training_request: dict[str, Any] | None = None

    def result_fields(self) -> dict[str, Any]:
        """The findings as RunResult fields (for `RunResult.model_copy(update=...)`)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        del fields["training_request"]
        return fields


class Verdict(BaseModel):
    """What a run of the pipeline decided, with everything its stages found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Decision
    reason: str
    reasons: list[str] = Field(default_factory=list)
    findings: Findings

    def result_fields(self) -> dict[str, Any]:
        """The verdict as RunResult fields (for `RunResult.model_copy(update=...)`)."""
        return {
            **self.findings.result_fields(),
            "decision": self.decision,
            "reason": self.reason,
            "reasons": list(self.reasons),
        }


class Recorder:
    """The pipeline's findings, changed by the stages and read by the lifecycle.

    Every change swaps in a new `Findings` under a lock, so a snapshot is never torn;
    the lists and records inside are replaced, never mutated.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._findings = Findings()

    def snapshot(self) -> Findings:
        return self._findings

    def record(self, **fields: Any) -> None:
        """Set some fields of the findings."""
        with self._lock:
            self._findings = self._findings.model_copy(update=fields)

    def add_message(self, message: Message) -> None:
        with self._lock:
            messages = [*self._findings.messages, message]
            self._findings = self._findings.model_copy(update={"messages": messages})

    def add_dataset(self, record: DatasetRecord) -> None:
        with self._lock:
            datasets = [*self._findings.datasets, record]
            self._findings = self._findings.model_copy(update={"datasets": datasets})

    def update_dataset(self, dataset_id: str, **fields: Any) -> None:
        """Set some fields of the dataset record with this id."""
        with self._lock:
            datasets = [
                d.model_copy(update=fields) if d.id == dataset_id else d
                for d in self._findings.datasets
            ]
            self._findings = self._findings.model_copy(update={"datasets": datasets})

    def add_attempt(self, attempt: TrainingAttempt) -> None:
        with self._lock:
            attempts = [*self._findings.attempts, attempt]
            self._findings = self._findings.model_copy(
                update={"attempts": attempts, "training_id": attempt.training_id}
            )

    def update_attempt(self, **fields: Any) -> None:
        """Set some fields of the latest training attempt."""
        with self._lock:
            *earlier, last = self._findings.attempts
            attempts = [*earlier, last.model_copy(update=fields)]
            self._findings = self._findings.model_copy(update={"attempts": attempts})

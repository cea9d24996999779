"""Reading the Intent Analyzer: each flow's `feedbackReport` and its intents' reports
become `EvalMetrics`, and their findings the run's warnings.

The service gives an F-score (and accuracy when sent) but no precision or recall, so
those stay None. Combined over several targets, every figure is the weakest target's
and every intent is named `<target>: <intent>`, so a gate that passes passes for each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ci_trainer.backend_types import CombinedFigure, EvalMetrics, IntentScore, TargetScore
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.errors import ContractError
from ci_trainer.http.service_text import service_text
from ci_trainer.redact import one_line

# Findings worth a warning; the "good"/"fair" bands are informational.
WARNING_FINDINGS = frozenset(
    {
        "poorAccuracy",
        "poorFScore",
        "fewSentences",
        "strongOverlap",
        "unclearIntent",
        "lowDataIntents",
    }
)


@dataclass(frozen=True)
class Finding:
    """One Intent Analyzer finding, located at its target (and intent)."""

    target: str
    type: str
    intent: str | None = None
    detail: str | None = None

    @property
    def text(self) -> str:
        where = f"{self.target}: intent {self.intent}" if self.intent else self.target
        return f"{where}: {self.type}" + (f" ({self.detail})" if self.detail else "")


class IntentAnalyzer:
    """Reads the metrics of trained targets and keeps the findings of the last read."""

    def __init__(
        self, client: CognigyV2Client, options: V2Options, label: Callable[[V2Target], str]
    ) -> None:
        self._client = client
        self._options = options
        self._label = label
        self.findings: list[Finding] = []

    def metrics(self, targets: list[V2Target], training_id: str) -> EvalMetrics:
        """The metrics of one training over `targets` (combined when several)."""
        self.findings = []  # the findings describe the metrics read last
        per_target = [self._target_metrics(spec) for spec in targets]
        version_id = f"{self._options.project_id}:{training_id}"
        if len(per_target) == 1:
            return per_target[0].model_copy(update={"version_id": version_id})
        prefixed = [
            score.model_copy(update={"intent": f"{self._label(spec)}: {score.intent}"})
            for spec, metrics in zip(targets, per_target, strict=True)
            for score in metrics.per_intent
        ]
        lowest: dict[CombinedFigure, float | None] = {
            "f1": _lowest(m.f1 for m in per_target),
            "accuracy": _lowest(m.accuracy for m in per_target),
            "macro_f1": _lowest(m.macro_f1 for m in per_target),
        }
        return EvalMetrics(
            version_id=version_id,
            f1=lowest["f1"],
            accuracy=lowest["accuracy"],
            macro_f1=lowest["macro_f1"],
            per_intent=prefixed,
            targets=[
                self._target_score(spec, metrics, lowest)
                for spec, metrics in zip(targets, per_target, strict=True)
            ],
        )

    def warnings(self) -> list[str]:
        """The findings a user should act on, one sentence each."""
        return [f.text for f in self.findings if f.type in WARNING_FINDINGS]

    def _target_score(
        self, spec: V2Target, metrics: EvalMetrics, lowest: dict[CombinedFigure, float | None]
    ) -> TargetScore:
        """A member's own figures, and which of the combined (lowest) figures are its."""
        return TargetScore(
            id=spec.id,
            label=self._label(spec),
            f1=metrics.f1,
            accuracy=metrics.accuracy,
            macro_f1=metrics.macro_f1,
            intent_count=len(metrics.per_intent),
            sets_combined=[
                name
                for name, value in lowest.items()
                if value is not None and getattr(metrics, name) == value
            ],
        )

    def _target_metrics(self, spec: V2Target) -> EvalMetrics:
        label = self._label(spec)
        flow = self._client.read_flow(spec.flow_id, spec.locale_id)
        report = flow.get("feedbackReport")
        if not isinstance(report, dict) or not isinstance(report.get("info"), dict):
            raise ContractError(
                call="readFlow",
                message_text=f"{label}: the flow has no feedbackReport after training",
                hint_text="the Intent Analyzer report is missing; re-run the training",
            )
        info = report["info"]
        self._collect_findings(label, None, report)
        per_intent: list[IntentScore] = []
        for intent in self._client.list_intents(spec.flow_id, spec.locale_id):
            # Bounded where it enters: an intent's name labels its row everywhere.
            name = service_text(one_line(str(intent.get("name", intent["_id"]))), limit=200)
            intent_report = intent.get("feedbackReport")
            if not isinstance(intent_report, dict):
                continue  # disabled or untrained intents have no report
            score = _fraction(intent_report.get("info", {}).get("fScore"))
            self._collect_findings(label, name, intent_report)
            per_intent.append(IntentScore(intent=name, f1=score))
        scored = [s.f1 for s in per_intent if s.f1 is not None]
        return EvalMetrics(
            version_id=f"{self._options.project_id}:{spec.id}",
            f1=_fraction(info.get("fScore")),
            accuracy=_fraction(info.get("accuracy")),
            macro_f1=round(sum(scored) / len(scored), 6) if scored else None,
            per_intent=sorted(per_intent, key=lambda s: s.intent),
        )

    def _collect_findings(self, label: str, intent: str | None, report: dict[str, Any]) -> None:
        findings = report.get("findings")
        if not isinstance(findings, list):
            return
        for item in findings:
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(kind, str):
                continue
            detail = None
            if "overlappingIntentName" in item:
                detail = f"overlaps {item['overlappingIntentName']}"
            elif isinstance(item.get("intents"), list):
                names = [str(i.get("intentName")) for i in item["intents"] if isinstance(i, dict)]
                detail = ", ".join(names[:10])
            self.findings.append(Finding(target=label, type=kind, intent=intent, detail=detail))


def _fraction(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _lowest(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None

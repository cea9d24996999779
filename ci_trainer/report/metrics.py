"""The candidate's figures: metrics against production and the gate's floors, each
target's own figures, and the intents it does worst on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ci_trainer.backend_types import CombinedFigure, EvalMetrics, IntentScore
from ci_trainer.report.markdown import escape, fmt, fmt_signed, table
from ci_trainer.result import GateRule, RunResult

# (label, EvalMetrics attribute) in the order reviewers read them.
_METRICS: tuple[tuple[str, str], ...] = (
    ("F1", "f1"),
    ("Precision", "precision"),
    ("Recall", "recall"),
    ("Accuracy", "accuracy"),
    ("Macro F1", "macro_f1"),
)
_COMBINED_NAMES: dict[CombinedFigure, str] = {
    "f1": "F1",
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
}


def _gate_rule_for(result: RunResult, metric: str) -> GateRule | None:
    """The gate's floor on `metric` (rules are named after the config key, `min_f1`)."""
    return next((rule for rule in result.gate if rule.rule == f"min_{metric}"), None)


def _threshold_for(result: RunResult, metric: str) -> Any:
    rule = _gate_rule_for(result, metric)
    if rule is not None and rule.threshold is not None:
        return rule.threshold
    # No rule (the gate did not run): the configured floor, from the runner's record of
    # the config's sections ({"gate": {...}, "validation": {...}}).
    gate = result.thresholds.get("gate")
    value = gate.get(f"min_{metric}") if isinstance(gate, dict) else None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _metric(metrics: EvalMetrics | None, name: str) -> float | None:
    if metrics is None:
        return None
    value = getattr(metrics, name)
    return float(value) if isinstance(value, (int, float)) else None


def metrics_section(result: RunResult) -> str | None:
    candidate = result.metrics
    production = result.production.metrics if result.production else None
    if candidate is None and production is None:
        return None
    rows = []
    for label, name in _METRICS:
        cand, prod = _metric(candidate, name), _metric(production, name)
        rule = _gate_rule_for(result, name)
        if cand is None and prod is None and rule is None:
            continue  # a metric neither version has (e.g. accuracy on v2) is not a row
        delta = cand - prod if cand is not None and prod is not None else None
        verdict = "—" if rule is None else ("✅ pass" if rule.passed else "❌ fail")
        rows.append(
            [
                label,
                fmt(cand),
                fmt(_threshold_for(result, name)),
                fmt(prod),
                fmt_signed(delta),
                verdict,
            ]
        )
    production_id = result.production.version_id if result.production else None
    against = (
        f"against production {escape(production_id)}"
        if production_id
        else "with no production model to compare against (none has been promoted yet)"
    )
    caption = (
        f"Candidate {escape(result.version_id or 'n/a')} {against}, on the service's "
        "validation split. n/a: the service did not report this figure."
    )
    headers = ["Metric", "Candidate", "Threshold", "Production", "Delta", "Gate"]
    return "### Metrics\n\n" + table(headers, rows) + "\n\n" + caption


def _production_f1(result: RunResult) -> dict[str, float]:
    """Production's F1 per target id, where the service reported one."""
    production = result.production.metrics if result.production else None
    if production is None:
        return {}
    return {score.id: score.f1 for score in production.targets if score.f1 is not None}


def targets_section(result: RunResult) -> str | None:
    """Each flow x locale's own figures behind a combined target's (lowest) ones."""
    scores = result.metrics.targets if result.metrics else []
    if len(scores) < 2:
        return None  # one target's figures are the Metrics table's
    production_f1 = _production_f1(result)
    with_production = any(score.id in production_f1 for score in scores)
    headers = ["Target", "F1", "Accuracy", "Macro F1"]
    headers += ["Production F1"] if with_production else []
    headers += ["Intents", "Sets combined"]
    rows = []
    for score in scores:
        row = [escape(score.label), fmt(score.f1), fmt(score.accuracy), fmt(score.macro_f1)]
        if with_production:
            row.append(fmt(production_f1.get(score.id)))
        sets = ", ".join(_COMBINED_NAMES[name] for name in score.sets_combined)
        row += [fmt(score.intent_count), f"⬇️ {sets}" if sets else "—"]
        rows.append(row)
    caption = (
        f"{len(scores)} flow x locale targets, trained together. Metrics and the gate use "
        "the lowest target's F1, accuracy and macro F1; *Sets combined* says whose each is."
    )
    return "### Targets\n\n" + table(headers, rows) + "\n\n" + caption


def intent_rows(scores: Iterable[IntentScore]) -> list[list[str]]:
    return [
        [escape(s.intent), fmt(s.f1), fmt(s.precision), fmt(s.recall), fmt(s.support)]
        for s in scores
    ]


def weakest_section(result: RunResult) -> str | None:
    if not result.weakest_intents:
        return None
    floor = _per_intent_support(result)
    headers = ["Intent", "F1", "Precision", "Recall", "Support"]
    rows = intent_rows(result.weakest_intents)
    if floor is not None:
        # The gate judges only intents with enough support: say which rows it skipped,
        # so the table and the per_intent gate row count the same intents.
        headers.append("Gate")
        for row, score in zip(rows, result.weakest_intents, strict=True):
            small = score.support is not None and score.support < floor
            row.append(f"not judged (support {score.support} < {floor})" if small else "judged")
    return "### Weakest intents\n\n" + table(headers, rows)


def _per_intent_support(result: RunResult) -> int | None:
    """`gate.per_intent.min_support` of the run's config, when a per-intent floor is set."""
    gate = result.thresholds.get("gate")
    per_intent = gate.get("per_intent") if isinstance(gate, dict) else None
    support = per_intent.get("min_support") if isinstance(per_intent, dict) else None
    return support if isinstance(support, int) and not isinstance(support, bool) else None

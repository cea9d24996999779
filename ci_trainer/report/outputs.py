"""The action's outputs (the names in action.yml): one-line strings and a metrics JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from ci_trainer.backend_types import EvalMetrics
from ci_trainer.report.headline import heading
from ci_trainer.report.markdown import one_line
from ci_trainer.result import RunResult


def _number(value: float | None) -> str:
    """An output number: full precision, or empty when the service did not give it."""
    if value is None or not math.isfinite(value):
        return ""
    return repr(float(value))


def _metric_fields(metrics: EvalMetrics | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    return metrics.model_dump(mode="json", exclude={"per_intent", "convergence"})


def _metrics_json(result: RunResult) -> str:
    champion = result.champion
    document = {
        "candidate": _metric_fields(result.metrics),
        "production": _metric_fields(result.production.metrics if result.production else None),
        "thresholds": result.thresholds,
        "gate": [rule.model_dump(mode="json") for rule in result.gate],
        "champion": None
        if champion is None
        else champion.model_dump(
            mode="json",
            include={
                "candidate_macro_f1",
                "production_macro_f1",
                "diff_macro_f1",
                "ci_low",
                "ci_high",
                "confidence",
                "mcnemar_p",
                "mcnemar_candidate_only",
                "mcnemar_production_only",
                "margin",
                "alpha",
                "min_support",
                "verdict",
                "conclusion",
                "intents_worse",
                "intents_better",
                "intent_changes",
                "precision_worse",
                "precision_better",
                "precision_changes",
                "n",
            },
        ),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)


def summary_line(result: RunResult) -> str:
    """The `summary` output: one line, decision and the reason (full Markdown is in the
    step summary, or in `summary.md` outside Actions)."""
    _, label = heading(result)
    return one_line(f"{label}: {result.reason}")


def build_outputs(result: RunResult, *, junit: str = "") -> dict[str, str]:
    """The action's outputs (the names in action.yml), all strings as the runner wants;
    `junit` is the path of the JUnit report written from `result`, if one was."""
    metrics = result.metrics
    return {
        "decision": result.decision.value,
        "promoted": "true" if result.promoted else "false",
        "status": result.status or "",
        "training-id": result.training_id or "",
        "version-id": result.version_id or "",
        "f1": _number(metrics.f1 if metrics else None),
        "precision": _number(metrics.precision if metrics else None),
        "recall": _number(metrics.recall if metrics else None),
        "reason": one_line(result.reason),
        "metrics": _metrics_json(result),
        "audit-log": result.audit_log or "",
        # One path per line: every intents export this run kept (cognigy-v2).
        "intents-export": "\n".join(e.path for e in result.service_exports if e.path),
        "predictions": result.predictions_file.path if result.predictions_file else "",
        "summary": summary_line(result),
        "audit-hash": result.audit_hash or "",
        "verdict": verdict(result),
        "junit": junit,
    }


def verdict(result: RunResult) -> str:
    """The `verdict` output: how the candidate compared with production on the holdout."""
    champion = result.champion
    if champion is None or champion.conclusion is None:
        return "not-compared"
    return champion.conclusion

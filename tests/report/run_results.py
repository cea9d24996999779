"""Realistic RunResults for each decision, built the way the pipeline fills them in.

Shared by tests/report, tests/github and tests/action (they put this folder on sys.path),
so the summary, outputs and action are tested on the same records.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from ci_trainer.backend_types import ConvergencePoint, EvalMetrics, IntentScore, PromotionStep
from ci_trainer.decision import Decision
from ci_trainer.result import (
    ChampionComparison,
    CheckResult,
    CheckStatus,
    DatasetRecord,
    ErrorInfo,
    GateRule,
    Message,
    Mode,
    ProductionInfo,
    PromotionRecord,
    Provenance,
    RunResult,
    SupportInfo,
    TrainingAttempt,
    WebhookDelivery,
)

STARTED = datetime(2026, 11, 26, 20, 0, 0, tzinfo=timezone.utc)
INTENTS = [
    "check_balance",
    "transfer_money",
    "card_lost",
    "open_account",
    "close_account",
    "loan_info",
    "branch_hours",
    "dispute_charge",
    "update_address",
    "talk_to_agent",
    "reset_pin",
    "fees",
]


def _per_intent(base: float) -> list[IntentScore]:
    scores = []
    for index, intent in enumerate(INTENTS):
        f1 = round(base - 0.02 * (index % 5), 4)
        scores.append(
            IntentScore(intent=intent, precision=f1 + 0.01, recall=f1 - 0.01, f1=f1, support=8)
        )
    return scores


def _convergence(epochs: int) -> list[ConvergencePoint]:
    return [
        ConvergencePoint(
            epoch=epoch,
            train_loss=round(2.4 / epoch, 4),
            validation_f1=round(min(0.95, 0.5 + 0.04 * epoch), 4),
        )
        for epoch in range(1, epochs + 1)
    ]


def _checks() -> list[CheckResult]:
    return [
        CheckResult(
            check="imbalance_ratio",
            dataset_id="ds-banking",
            status=CheckStatus.WARNING,
            value=4.2,
            threshold=5.0,
            message="largest/smallest intent 4.2 <= 5.0",
        ),
        CheckResult(
            check="min_examples_per_intent",
            dataset_id="ds-banking",
            status=CheckStatus.PASSED,
            value=12,
            threshold=10,
            message="every intent has >= 10 examples",
        ),
        CheckResult(
            check="annotation_score",
            dataset_id="ds-banking",
            status=CheckStatus.SKIPPED,
            message="no example carries an annotation score",
        ),
        CheckResult(
            check="label_conflicts",
            dataset_id=None,
            status=CheckStatus.PASSED,
            value=0,
            threshold=0,
            message="no utterance under two intents",
        ),
    ]


def _base(decision: Decision, reason: str, **fields: Any) -> RunResult:
    values: dict[str, Any] = {
        "run_uuid": "4f9a0c1e-8d3b-4c55-9a7e-1d2c3b4a5f60",
        "tool_version": "0.1.0",
        "backend": "cognigy-v1",
        "mode": Mode.TRAIN,
        "decision": decision,
        "reason": reason,
        "reasons": [reason],
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(seconds=95.4),
        "duration_seconds": 95.4,
        "model_id": "banking-nlu",
        "config_path": "training-config.yaml",
        "config_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "thresholds": {
            "gate": {"min_f1": 0.85, "min_precision": 0.8, "min_recall": None},
            "validation": {"max_imbalance_ratio": 5.0, "min_examples_per_intent": 10},
        },
        "provenance": Provenance(
            repository="acme/nlu-models",
            commit="0123456789abcdef0123456789abcdef01234567",
            ref="refs/pull/7/merge",
            event="pull_request",
            actor="octocat",
            workflow="nlu",
            run_id="4242",
            run_attempt="1",
            server_url="https://github.com",
        ),
        "datasets": [
            DatasetRecord(
                id="ds-banking",
                path="datasets/banking.yaml",
                sha256="a" * 64,
                example_count=420,
                intent_count=12,
                service_example_count=420,
                service_intent_count=12,
            )
        ],
        "checks": _checks(),
        "audit_log": "cognigy_training_audit.log",
        "audit_hash": "b" * 64,
    }
    values.update(fields)
    return RunResult(**values)


def _trained(f1: float, precision: float, recall: float) -> dict[str, Any]:
    metrics = EvalMetrics(
        version_id="v-cand-17",
        f1=f1,
        precision=precision,
        recall=recall,
        accuracy=f1 + 0.005,
        macro_f1=f1 - 0.01,
        per_intent=_per_intent(f1 + 0.04),
        convergence=_convergence(12),
    )
    production = EvalMetrics(version_id="v-prod-16", f1=0.88, precision=0.87, recall=0.89)
    weakest = sorted(metrics.per_intent, key=lambda s: s.f1 or 0.0)[:5]
    return {
        "status": "COMPLETED",
        "training_id": "tr-8c1d",
        "version_id": "v-cand-17",
        "training_seconds": 61.0,
        "attempts": [
            TrainingAttempt(
                attempt=1,
                training_id="tr-8c1d",
                idempotency_key="acme-nlu-0123456789ab-1",
                batch_size=32,
                status="COMPLETED",
                started_at=STARTED,
                finished_at=STARTED + timedelta(seconds=61),
                status_requests=5,
            )
        ],
        "metrics": metrics,
        "weakest_intents": weakest,
        "convergence": metrics.convergence,
        "production": ProductionInfo(version_id="v-prod-16", metrics=production, read_at=STARTED),
    }


def _rules(f1: float, precision: float) -> list[GateRule]:
    return [
        GateRule(
            rule="min_f1",
            passed=f1 >= 0.85,
            value=f1,
            threshold=0.85,
            message=f"F1 {f1:.3f} {'>=' if f1 >= 0.85 else '<'} 0.850",
        ),
        GateRule(
            rule="min_precision",
            passed=precision >= 0.8,
            value=precision,
            threshold=0.8,
            message=f"precision {precision:.3f} {'>=' if precision >= 0.8 else '<'} 0.800",
        ),
    ]


def validated() -> RunResult:
    return _base(
        Decision.VALIDATED,
        "the config and datasets passed validation",
        mode=Mode.VALIDATE,
    )


def approved() -> RunResult:
    return _base(
        Decision.APPROVED,
        "F1 0.912 >= 0.850 and precision 0.905 >= 0.800; not promoted in mode train",
        gate=_rules(0.912, 0.905),
        champion=ChampionComparison(
            holdout_path="datasets/holdout.yaml",
            holdout_sha256="c" * 64,
            n=240,
            candidate_version_id="v-cand-17",
            production_version_id="v-prod-16",
            candidate_macro_f1=0.902,
            production_macro_f1=0.871,
            candidate_accuracy=0.913,
            production_accuracy=0.883,
            diff_macro_f1=0.031,
            ci_low=0.008,
            ci_high=0.054,
            confidence=0.95,
            bootstrap_samples=2000,
            seed=20240601,
            mcnemar_candidate_only=14,
            mcnemar_production_only=5,
            mcnemar_p=0.0636,
            margin=0.01,
            intents_better=["card_lost"],
            verdict="better",
            sentence="The candidate is better: macro-F1 +0.031 (95% CI +0.008 to +0.054).",
        ),
        **_trained(0.912, 0.905, 0.919),
    )


def promoted() -> RunResult:
    result = approved()
    return result.model_copy(
        update={
            "mode": Mode.PROMOTE,
            "decision": Decision.PROMOTED,
            "reason": "the candidate passes the gate and is now in production",
            "promotion": PromotionRecord(
                attempted=True,
                promoted=True,
                version_id="v-cand-17",
                environment="production",
                steps=[PromotionStep(name="promote", status="done", id="v-cand-17")],
            ),
            "webhook": WebhookDelivery(
                attempted=True,
                delivered=True,
                event_id="e-1",
                target="https://registry.example/hooks",
                status_code=200,
                attempts=1,
                signed=True,
            ),
        }
    )


def rejected() -> RunResult:
    return _base(
        Decision.REJECTED,
        "F1 0.812 < 0.850",
        reasons=["F1 0.812 < 0.850", "precision 0.790 < 0.800"],
        gate=_rules(0.812, 0.79),
        champion_note="the service has no predict endpoint; thresholds alone decided",
        **_trained(0.812, 0.79, 0.83),
    )


def invalid() -> RunResult:
    return _base(
        Decision.INVALID,
        "2 problems in the training config",
        checks=[],
        datasets=[],
        audit_hash=None,
        error=ErrorInfo(type="ConfigError", message="2 problems in the training config"),
        messages=[
            Message(
                level="error",
                title="training.validation_split",
                text="must be between 0.1 and 0.5, got 0.7",
                file="training-config.yaml",
                line=12,
                column=21,
            ),
            Message(
                level="error",
                title="gate.min_f1",
                text="unknown key 'min_f11' (did you mean 'min_f1'?)",
                file="training-config.yaml",
                line=20,
                column=3,
            ),
        ],
    )


def failed() -> RunResult:
    return _base(
        Decision.FAILED,
        "POST /models/banking-nlu/train: the service failed (HTTP 503) after 4 tries",
        checks=_checks(),
        error=ErrorInfo(type="ApiError", message="the service failed"),
        support=SupportInfo(
            endpoint="POST /models/banking-nlu/train",
            status=503,
            trace_id="trace-7f3a",
            response_body='{"title": "Service Unavailable", "detail": "engine down"}',
            dataset_ids=["ds-banking"],
            request_payload={"datasetIds": ["ds-banking"], "validationSplit": 0.2},
        ),
    )


def skipped() -> RunResult:
    return _base(
        Decision.SKIPPED,
        "no training-service credentials (fork pull requests get no secrets); "
        "validated the config and datasets only",
        messages=[
            Message(
                level="notice",
                title="Training skipped",
                text="No credentials: fork pull requests get no secrets. "
                "The config and datasets were validated.",
            )
        ],
    )


ALL = {
    "validated": validated,
    "approved": approved,
    "promoted": promoted,
    "rejected": rejected,
    "invalid": invalid,
    "failed": failed,
    "skipped": skipped,
}

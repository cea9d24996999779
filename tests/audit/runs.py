"""Realistic RunResults for every decision, shared by the audit tests."""

from __future__ import annotations

from collections.abc import Callable
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
    ResourceUsage,
    RunResult,
    SupportInfo,
    TrainingAttempt,
    WebhookDelivery,
)

START = datetime(2026, 11, 26, 20, 0, 0, tzinfo=timezone.utc)
END = START + timedelta(seconds=312.5)
CONFIG_SHA = "a" * 64
DATASET_SHA = "b" * 64

PROVENANCE = Provenance(
    repository="acme/bank-bot",
    commit="0123456789abcdef0123456789abcdef01234567",
    ref="refs/heads/main",
    event="push",
    actor="octocat",
    workflow="train",
    run_id="123456",
    run_attempt="2",
    server_url="https://github.com",
)


def _base(decision: Decision, mode: Mode, reason: str, **extra: Any) -> RunResult:
    fields: dict[str, Any] = {
        "run_uuid": "7f0c2a1e-4a7b-4f6e-9a51-1c2d3e4f5a6b",
        "tool_version": "0.1.0",
        "backend": "cognigy-v1",
        "mode": mode,
        "decision": decision,
        "reason": reason,
        "reasons": [reason],
        "started_at": START,
        "finished_at": END,
        "duration_seconds": 312.5,
        "model_id": "mdl_banking",
        "target": "mdl_banking",
        "config_path": "training-config.yaml",
        "config_sha256": CONFIG_SHA,
        "thresholds": {
            "max_imbalance_ratio": 5.0,
            "min_annotation_score": 0.85,
            "gate": {"min_f1": 0.85, "per_intent": {"check_balance": 0.8}},
        },
        "provenance": PROVENANCE,
        "datasets": [
            DatasetRecord(
                id="ds_intent_001",
                path="datasets/banking.yaml",
                sha256=DATASET_SHA,
                example_count=120,
                intent_count=3,
                intent_distribution={"check_balance": 40, "transfer_money": 50, "lost_card": 30},
                average_annotation_score=0.92,
                service_example_count=120,
                service_intent_count=3,
            )
        ],
        "checks": [
            CheckResult(
                check="imbalance_ratio",
                dataset_id="ds_intent_001",
                status=CheckStatus.PASSED,
                value=1.67,
                threshold=5.0,
                message="imbalance ratio 1.67 <= 5.0",
            ),
            CheckResult(
                check="label_conflicts",
                dataset_id="ds_intent_001",
                status=CheckStatus.WARNING,
                value=1,
                threshold=0,
                message="1 utterance under two intents",
                details=["'my card' in lost_card and check_balance"],
            ),
        ],
    }
    fields.update(extra)
    return RunResult(**fields)


def _metrics(version: str, f1: float) -> EvalMetrics:
    return EvalMetrics(
        version_id=version,
        f1=f1,
        precision=f1 + 0.01,
        recall=f1 - 0.01,
        accuracy=f1 + 0.02,
        macro_f1=f1,
        per_intent=[
            IntentScore(intent="check_balance", precision=0.9, recall=0.8, f1=0.85, support=8),
            IntentScore(intent="lost_card", precision=None, recall=None, f1=0.7, support=6),
        ],
        convergence=[ConvergencePoint(epoch=1, train_loss=1.2, validation_f1=0.5)],
    )


def _trained(decision: Decision, mode: Mode, reason: str, **extra: Any) -> RunResult:
    fields: dict[str, Any] = {
        "status": "COMPLETED",
        "training_id": "trn_42",
        "version_id": "ver_7",
        "attempts": [
            TrainingAttempt(
                attempt=1,
                training_id="trn_42",
                idempotency_key="acme-bank-bot-0123456-aaaa-2",
                batch_size=32,
                status="COMPLETED",
                started_at=START + timedelta(seconds=5),
                finished_at=END - timedelta(seconds=5),
                status_requests=9,
            )
        ],
        "training_seconds": 290.0,
        "resources": ResourceUsage(
            samples=9,
            peak_cpu_percent=87.5,
            peak_memory_percent=61.0,
            last_cpu_percent=12.0,
            last_memory_percent=40.0,
        ),
        "metrics": _metrics("ver_7", 0.91),
        "weakest_intents": [IntentScore(intent="lost_card", f1=0.7, support=6)],
        "convergence": [
            ConvergencePoint(epoch=1, train_loss=1.2, validation_f1=0.5),
            ConvergencePoint(epoch=2, train_loss=0.4, validation_f1=0.88),
        ],
        "production": ProductionInfo(
            version_id="ver_6", metrics=_metrics("ver_6", 0.88), read_at=START
        ),
        "gate": [
            GateRule(
                rule="min_f1",
                passed=decision is not Decision.REJECTED,
                value=0.91 if decision is not Decision.REJECTED else 0.812,
                threshold=0.85,
                message="F1 0.910 >= 0.850"
                if decision is not Decision.REJECTED
                else "F1 0.812 < 0.850",
            ),
            GateRule(rule="min_precision", passed=True, value=None, threshold=0.8, message="n/a"),
        ],
        "champion": ChampionComparison(
            holdout_path="datasets/holdout.yaml",
            holdout_sha256=DATASET_SHA,
            n=200,
            candidate_version_id="ver_7",
            production_version_id="ver_6",
            candidate_macro_f1=0.91,
            production_macro_f1=0.88,
            candidate_accuracy=0.92,
            production_accuracy=0.89,
            diff_macro_f1=0.03,
            ci_low=0.01,
            ci_high=0.05,
            confidence=0.95,
            bootstrap_samples=2000,
            seed=7,
            mcnemar_candidate_only=9,
            mcnemar_production_only=3,
            mcnemar_p=0.146,
            margin=0.01,
            intents_better=["check_balance"],
            verdict="better",
            sentence="The candidate is better: macro F1 +0.030 (95% CI 0.010..0.050).",
        ),
    }
    fields.update(extra)
    return _base(decision, mode, reason, **fields)


def approved() -> RunResult:
    return _trained(Decision.APPROVED, Mode.TRAIN, "The candidate passed the gate.")


def rejected() -> RunResult:
    return _trained(Decision.REJECTED, Mode.TRAIN, "F1 0.812 < 0.850")


def promoted() -> RunResult:
    return _trained(
        Decision.PROMOTED,
        Mode.PROMOTE,
        "The candidate passed the gate and was promoted.",
        promotion=PromotionRecord(
            attempted=True,
            promoted=True,
            version_id="ver_7",
            environment="production",
            steps=[PromotionStep(name="promote", status="done", id="ver_7")],
        ),
        webhook=WebhookDelivery(
            attempted=True,
            delivered=False,
            event_id="0b7c5bde-0a7f-5f0e-8a47-3a1f6c7d9e10",
            target="https://registry.example.com/hooks/nlu",
            status_code=503,
            attempts=4,
            signed=True,
            error="HTTP 503 after 4 attempts",
        ),
        messages=[
            Message(
                level="warning",
                text="Promoted, but the model registry is out of sync: HTTP 503 after 4 attempts",
                title="Webhook delivery failed",
            )
        ],
    )


def invalid() -> RunResult:
    return _base(
        Decision.INVALID,
        Mode.TRAIN,
        "2 problems in the training config",
        reasons=[
            "training-config.yaml:4:3: gate.min_f1: must be <= 1",
            "training-config.yaml:9:1: tresholds: unknown key (did you mean 'thresholds'?)",
        ],
        error=ErrorInfo(type="ConfigError", message="2 problems in the training config"),
        datasets=[],
        checks=[],
        messages=[
            Message(
                level="error",
                text="gate.min_f1: must be <= 1",
                file="training-config.yaml",
                line=4,
                column=3,
            )
        ],
    )


def failed_with_support() -> RunResult:
    return _base(
        Decision.FAILED,
        Mode.TRAIN,
        "POST /models/mdl_banking/train: HTTP 503 after 5 attempts",
        status=None,
        error=ErrorInfo(type="ApiError", message="start training: HTTP 503"),
        support=SupportInfo(
            endpoint="POST /models/mdl_banking/train",
            status=503,
            trace_id="trace-abc-123",
            response_body='{"error": "training engine unavailable"}',
            dataset_ids=["ds_intent_001"],
            request_payload={
                "datasetIds": ["ds_intent_001"],
                "validationSplit": 0.2,
                "hyperparameters": {"epochs": 50, "batch_size": 32},
            },
        ),
    )


def skipped() -> RunResult:
    return _base(
        Decision.SKIPPED,
        Mode.TRAIN,
        "No credentials (COGNIGY_CLIENT_ID is not set), e.g. a pull request from a fork.",
        model_id=None,
        target=None,
        datasets=[],
        checks=[],
        provenance=Provenance(event="pull_request", repository="acme/bank-bot"),
    )


def validated() -> RunResult:
    return _base(Decision.VALIDATED, Mode.VALIDATE, "Config and datasets are valid.")


ALL_RESULTS: dict[str, Callable[[], RunResult]] = {
    "approved": approved,
    "rejected": rejected,
    "promoted": promoted,
    "invalid": invalid,
    "failed": failed_with_support,
    "skipped": skipped,
    "validated": validated,
}


TAGS = ["automated", "api_triggered", "threshold_validated"]

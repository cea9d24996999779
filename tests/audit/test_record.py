"""build_record: the seed's fields plus governance data, valid against the committed schema."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from ci_trainer import audit
from ci_trainer.redact import Redactor
from ci_trainer.result import CheckResult, CheckStatus, ErrorInfo, RunResult, SupportInfo

from .runs import CONFIG_SHA, DATASET_SHA, TAGS, approved, failed_with_support, promoted

SEED_FIELDS = [
    "auditId",
    "timestamp",
    "modelId",
    "trainingId",
    "status",
    "durationSeconds",
    "metrics",
    "promotedToProduction",
    "convergenceData",
    "governanceTags",
]


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = audit.load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_realistic_record_validates_against_the_schema(any_result: RunResult) -> None:
    record = audit.build_record(any_result, governance_tags=TAGS)
    record["prevHash"] = audit.GENESIS_HASH
    record["hash"] = audit.record_hash(record)
    jsonschema.validate(
        record, audit.load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    assert audit.schema_problem(record) is None


def test_record_has_the_seed_fields_and_the_decision(any_result: RunResult) -> None:
    record = audit.build_record(any_result, governance_tags=TAGS)
    for name in SEED_FIELDS:
        assert name in record, name
    assert record["auditId"] == any_result.run_uuid
    assert record["decision"] == any_result.decision.value
    assert record["exitCode"] == any_result.exit_code
    assert record["mode"] == any_result.mode.value
    assert record["governanceTags"] == TAGS
    assert record["durationSeconds"] == 312.5
    assert record["timestamp"] == "2026-11-26T20:05:12.500000+00:00"


def test_approved_record_carries_what_an_auditor_needs() -> None:
    record = audit.build_record(approved(), governance_tags=TAGS)
    assert record["trainingId"] == "trn_42"
    assert record["status"] == "COMPLETED"
    assert record["metrics"]["f1"] == 0.91
    assert record["metrics"]["macroF1"] == 0.91
    assert record["metrics"]["perIntent"][1] == {
        "intent": "lost_card",
        "precision": None,
        "recall": None,
        "f1": 0.7,
        "support": 6,
    }
    assert [point["epoch"] for point in record["convergenceData"]] == [1, 2]
    assert record["convergenceData"][1]["validationF1"] == 0.88
    assert record["config"] == {"path": "training-config.yaml", "sha256": CONFIG_SHA}
    assert record["datasets"][0]["sha256"] == DATASET_SHA
    assert record["datasets"][0]["path"] == "datasets/banking.yaml"
    assert record["checks"][1]["status"] == "warning"
    assert record["gate"][0] == {
        "rule": "min_f1",
        "passed": True,
        "value": 0.91,
        "threshold": 0.85,
        "message": "F1 0.910 >= 0.850",
    }
    assert record["champion"]["verdict"] == "better"
    assert record["attempts"][0]["idempotencyKey"] == "acme-bank-bot-0123456-aaaa-2"
    assert record["resources"]["peakCpuPercent"] == 87.5
    assert record["production"]["versionId"] == "ver_6"
    assert record["promotedToProduction"] is False
    assert record["toolVersion"] == "0.1.0"
    assert record["backend"] == "cognigy-v1"


def test_provenance_is_copied_from_the_run() -> None:
    record = audit.build_record(approved(), governance_tags=TAGS)
    assert record["provenance"] == {
        "repository": "acme/bank-bot",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "ref": "refs/heads/main",
        "event": "push",
        "actor": "octocat",
        "workflow": "train",
        "runId": "123456",
        "runAttempt": "2",
        "serverUrl": "https://github.com",
    }


def test_promoted_record_keeps_promotion_steps_and_failed_webhook() -> None:
    record = audit.build_record(promoted(), governance_tags=TAGS)
    assert record["promotedToProduction"] is True
    assert record["promotion"]["steps"] == [
        {"name": "promote", "status": "done", "id": "ver_7", "detail": None}
    ]
    assert record["webhook"]["delivered"] is False
    assert record["webhook"]["statusCode"] == 503
    assert record["messages"][0]["level"] == "warning"


def test_failed_record_keeps_support_info_and_error() -> None:
    record = audit.build_record(failed_with_support(), governance_tags=TAGS)
    assert record["error"] == {"type": "ApiError", "message": "start training: HTTP 503"}
    assert record["support"]["traceId"] == "trace-abc-123"
    assert record["support"]["requestPayload"]["hyperparameters"] == {
        "epochs": 50,
        "batch_size": 32,
    }


def test_data_keys_are_not_camel_cased() -> None:
    record = audit.build_record(approved(), governance_tags=TAGS)
    assert set(record["datasets"][0]["intentDistribution"]) == {
        "check_balance",
        "transfer_money",
        "lost_card",
    }
    assert record["thresholds"]["gate"]["per_intent"] == {"check_balance": 0.8}


def test_infinite_check_value_is_kept_as_text_and_record_stays_valid() -> None:
    infinite = CheckResult(
        check="imbalance_ratio",
        dataset_id="ds",
        status=CheckStatus.FAILED,
        value=float("inf"),
        threshold=5.0,
        message="an intent has no examples",
    )
    result = approved().model_copy(update={"checks": [infinite]})
    record = audit.build_record(result, governance_tags=TAGS)
    assert record["checks"][0]["value"] == "inf"
    record["prevHash"] = audit.GENESIS_HASH
    record["hash"] = audit.record_hash(record)
    assert audit.schema_problem(record) is None


def test_redactor_removes_a_leaked_secret_everywhere() -> None:
    secret = "s3cr3t-client-value"
    leaky = failed_with_support().model_copy(
        update={
            "reason": f"token request failed for {secret}",
            "error": ErrorInfo(type="AuthError", message=f"bad secret {secret}"),
            "support": SupportInfo(
                endpoint="POST /auth/token",
                status=500,
                response_body=f'{{"echo": "{secret}"}}',
                request_payload={"client_secret": secret, secret: "as a key"},
            ),
        }
    )
    record = audit.build_record(leaky, governance_tags=TAGS, redactor=Redactor([secret]))
    text = json.dumps(record)
    assert secret not in text
    assert record["reason"] == "token request failed for ***"
    assert record["support"]["requestPayload"] == {"client_secret": "***", "***": "as a key"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _nested_models() -> dict[str, type[BaseModel]]:
    """Schema $defs name -> the RunResult model it describes."""
    from ci_trainer.backend_types import (
        ConvergencePoint,
        EvalMetrics,
        IntentScore,
        PromotionStep,
        TargetScore,
    )
    from ci_trainer.result import (
        ChampionComparison,
        DatasetRecord,
        GateRule,
        IntentChange,
        Location,
        Message,
        PrecisionChange,
        ProductionInfo,
        PromotionRecord,
        Provenance,
        ResourceUsage,
        TrainingAttempt,
        WebhookDelivery,
    )

    return {
        "intentScore": IntentScore,
        "convergencePoint": ConvergencePoint,
        "targetScore": TargetScore,
        "metrics": EvalMetrics,
        "dataset": DatasetRecord,
        "check": CheckResult,
        "location": Location,
        "gateRule": GateRule,
        "intentChange": IntentChange,
        "precisionChange": PrecisionChange,
        "champion": ChampionComparison,
        "attempt": TrainingAttempt,
        "resources": ResourceUsage,
        "production": ProductionInfo,
        "promotionStep": PromotionStep,
        "promotion": PromotionRecord,
        "webhook": WebhookDelivery,
        "support": SupportInfo,
        "error": ErrorInfo,
        "message": Message,
        "provenance": Provenance,
    }


@pytest.mark.parametrize("name", sorted(_nested_models()))
def test_schema_describes_every_field_of_the_runresult_models(name: str) -> None:
    # New RunResult fields reach the record automatically; this keeps the schema's
    # documentation of them from silently falling behind.
    described = set(audit.load_schema()["$defs"][name]["properties"])
    fields = {_camel(field) for field in _nested_models()[name].model_fields}
    assert fields - described == set(), f"document these in $defs/{name}"


def test_schema_documents_the_hash_recipe_that_the_code_uses() -> None:
    description = audit.load_schema()["description"]
    assert "sort_keys=True" in description
    assert "separators=(',', ':')" in description
    assert "ensure_ascii=False" in description
    record: dict[str, Any] = {"b": 1, "a": "é", "prevHash": audit.GENESIS_HASH, "hash": "x"}
    by_recipe = hashlib.sha256(
        json.dumps(
            {k: v for k, v in record.items() if k != "hash"},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
    ).hexdigest()
    assert audit.record_hash(record) == by_recipe
    assert (
        audit.canonical_json(record) == '{"a":"é","b":1,"prevHash":"'.encode() + (b"0" * 64) + b'"}'
    )


# RunResult fields and the record key that holds each; the rest are deliberately absent.
RECORD_KEY_OF = {
    "run_uuid": "auditId",
    "tool_version": "toolVersion",
    "backend": "backend",
    "mode": "mode",
    "data_diff": "dataDiff",
    "decision": "decision",
    "reason": "reason",
    "reasons": "reasons",
    "started_at": "startedAt",
    "finished_at": "finishedAt",
    "duration_seconds": "durationSeconds",
    "model_id": "modelId",
    "target": "target",
    "config_path": "config",
    "config_sha256": "config",
    "thresholds": "thresholds",
    "provenance": "provenance",
    "datasets": "datasets",
    "checks": "checks",
    "service_exports": "intentsExports",
    "status": "status",
    "training_id": "trainingId",
    "version_id": "versionId",
    "attempts": "attempts",
    "training_seconds": "trainingSeconds",
    "resources": "resources",
    "metrics": "metrics",
    "weakest_intents": "weakestIntents",
    "convergence": "convergenceData",
    "production": "production",
    "gate": "gate",
    "champion": "champion",
    "champion_note": "championNote",
    "held": "held",
    "holdout_changes": "holdoutChanges",  # the counts only; the utterances are in the file
    "predictions_file": "predictionsFile",
    "promotion": "promotion",
    "webhook": "webhook",
    "support": "support",
    "error": "error",
    "messages": "messages",
}
# The record cannot hold its own location or hash; schema_version is the RunResult's own;
# the pull request comment is sent after the record is appended.
NOT_IN_RECORD = {"audit_log", "audit_hash", "audit_error", "schema_version", "pr_comment"}


def test_every_runresult_field_reaches_the_record() -> None:
    fields = set(RunResult.model_fields)
    assert fields - set(RECORD_KEY_OF) - NOT_IN_RECORD == set(), "map the new field in build_record"
    record = audit.build_record(approved(), governance_tags=TAGS)
    assert set(RECORD_KEY_OF.values()) <= set(record)
    assert set(record) <= set(audit.load_schema()["properties"])

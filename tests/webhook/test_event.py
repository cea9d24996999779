"""build_event and signatures (no network); the URL rules are tested in tests/http_layer."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from ci_trainer import webhook
from ci_trainer.backend_types import EvalMetrics, TargetScore
from ci_trainer.decision import Decision

from .conftest import make_result

SECRET = "whsec-Kq8v3Zr0"


def test_event_has_the_seed_fields_and_the_decision() -> None:
    result = make_result()
    event = webhook.build_event(result, "e-1")
    assert event["event"] == "model_promoted"
    assert event["eventId"] == "e-1"
    assert event["timestamp"] == "2026-11-26T21:01:30+00:00"
    assert event["modelId"] == "mdl_banking"
    assert event["trainingId"] == "trn_42"
    assert event["versionId"] == "ver_7"
    assert event["source"] == "ci-trainer"
    assert event["decision"] == "promoted"
    assert event["reason"] == "F1 0.910 >= 0.850"
    assert event["promoted"] is True
    assert event["environment"] == "production"
    assert event["productionVersionId"] == "ver_6"
    assert event["auditId"] == result.run_uuid
    assert event["metrics"]["f1"] == 0.91
    assert event["metrics"]["precision"] is None  # not given by the service, not invented
    assert event["metrics"]["perIntent"][0]["intent"] == "lost_card"
    assert event["provenance"] == {
        "repository": "acme/bank-bot",
        "commit": "0" * 40,
        "ref": "refs/heads/main",
        "runId": "99",
        "runAttempt": None,
    }


@pytest.mark.parametrize(
    ("decision", "name"),
    [
        (Decision.APPROVED, "model_training_completed"),
        (Decision.REJECTED, "model_training_completed"),
        (Decision.PROMOTED, "model_promoted"),
        (Decision.FAILED, "model_training_failed"),
        (Decision.INVALID, "model_training_invalid"),
        (Decision.VALIDATED, "model_validation_completed"),
        (Decision.SKIPPED, "model_training_skipped"),
    ],
)
def test_event_name_per_decision(decision: Decision, name: str) -> None:
    assert webhook.build_event(make_result(decision), "e")["event"] == name


def test_every_decision_has_an_event_name() -> None:
    assert set(webhook.EVENT_NAMES) == set(Decision)


def test_a_combined_targets_members_are_sent_with_the_metrics() -> None:
    members = [
        TargetScore(id="f/en", label="Shop/en-US", f1=0.92, accuracy=0.93, intent_count=3),
        TargetScore(
            id="f/de",
            label="Shop/de-DE",
            f1=0.81,
            accuracy=float("nan"),  # not finite: null, as for every other metric
            intent_count=3,
            sets_combined=["f1"],
        ),
    ]
    metrics = EvalMetrics(version_id="p:run-1", f1=0.81, targets=members)
    event = webhook.build_event(make_result(metrics=metrics), "e")
    assert event["metrics"]["targets"] == [
        {"id": "f/en", "label": "Shop/en-US", "f1": 0.92, "accuracy": 0.93, "macroF1": None,
         "intentCount": 3, "setsCombined": []},
        {"id": "f/de", "label": "Shop/de-DE", "f1": 0.81, "accuracy": None, "macroF1": None,
         "intentCount": 3, "setsCombined": ["f1"]},
    ]  # fmt: skip
    webhook.serialise(event)  # no NaN reaches the JSON
    assert webhook.build_event(make_result(), "e")["metrics"]["targets"] == []


def test_failed_run_without_metrics_has_null_metrics() -> None:
    result = make_result(Decision.FAILED, metrics=None, training_id=None, version_id=None)
    event = webhook.build_event(result, "e")
    assert event["metrics"] is None and event["trainingId"] is None
    assert event["promoted"] is False


def test_event_id_is_a_uuid_stable_per_run() -> None:
    first = webhook.event_id_for(make_result())
    assert uuid.UUID(first).version == 5
    assert webhook.event_id_for(make_result()) == first
    other = make_result(run_uuid="another-run")
    assert webhook.event_id_for(other) != first


def test_signature_is_hmac_sha256_of_the_exact_bytes() -> None:
    body = webhook.serialise(webhook.build_event(make_result(), "e"))
    header = webhook.sign(body, SECRET)
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert header == f"sha256={expected}"
    assert webhook.verify_signature(body, header, SECRET)
    assert webhook.verify_signature(body, header.upper().replace("SHA256=", "sha256="), SECRET)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, header: (body + b" ", header),
        lambda body, header: (body.replace(b"promoted", b"rejected", 1), header),
        lambda body, header: (body, header[:-1] + ("0" if header[-1] != "0" else "1")),
        lambda body, header: (body, header.replace("sha256=", "sha1=")),
        lambda body, header: (body, header.replace("sha256=", "")),
        lambda body, header: (body, ""),
        lambda body, header: (body, "sha256=ünïcode"),
    ],
)
def test_signature_rejects_any_change(tamper: object) -> None:
    body = webhook.serialise(webhook.build_event(make_result(), "e"))
    header = webhook.sign(body, SECRET)
    changed_body, changed_header = tamper(body, header)  # type: ignore[operator]
    assert not webhook.verify_signature(changed_body, changed_header, SECRET)


def test_signature_with_another_secret_fails() -> None:
    body = b'{"a":1}'
    assert not webhook.verify_signature(body, webhook.sign(body, SECRET), "other-secret")
    assert not webhook.verify_signature(body, webhook.sign(body, SECRET), "")


def test_holdout_changes_are_sent_as_counts_without_an_utterance() -> None:
    from ci_trainer.holdout_changes import holdout_changes
    from ci_trainer.holdout_types import HoldoutOutcome

    def said(text: str, expected: str, candidate: str | None, production: str) -> HoldoutOutcome:
        return HoldoutOutcome(
            text=text, expected=expected, candidate=candidate, production=production
        )

    outcomes = [
        said("where is my parcel", "track_order", "track_order", "track_order"),
        said("cancel it please", "cancel_order", "track_order", "cancel_order"),
        said("stop my order now", "cancel_order", None, "cancel_order"),
        said("money back for the shoes", "refund_status", "refund_status", "return_item"),
    ]
    event = webhook.build_event(make_result(holdout_changes=holdout_changes(outcomes)), "e")
    # Changed off-diagonal pairs: cancel_order -> track_order and cancel_order -> no
    # intent appeared, refund_status -> return_item went away.
    assert event["holdoutChanges"] == {
        "utterances": 4,
        "regressed": 2,
        "fixed": 1,
        "confusionPairsChanged": 3,
    }
    assert not any(o.text in repr(event) for o in outcomes)
    assert webhook.build_event(make_result(), "e")["holdoutChanges"] is None

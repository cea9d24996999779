"""The typed client: one method per endpoint, contract checks, extensions, no leaks."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.errors import ApiError, ContractError, FeatureUnavailable

from .conftest import CLIENT_SECRET, MODEL
from .server import Reply, ScriptedServer

STATUS = f"/models/{MODEL}/training/t-1/status"
METRICS = f"/models/{MODEL}/training/t-1/metrics"
GOOD_METRICS = {
    "versionId": "v-3",
    "f1Score": 0.91,
    "precision": 0.9,
    "recall": 0.92,
    "accuracy": 0.93,
    "macro": {"f1": 0.88},
    "perIntent": {"greet": {"precision": 1.0, "recall": 0.5, "f1": 0.67, "support": 4}},
    "convergenceHistory": [{"epoch": 1, "trainLoss": 0.7, "validationF1": 0.6}],
    "brandNewField": [1, 2, 3],
}


def test_every_endpoint_returns_a_typed_model(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on("GET", "/datasets/ds-1/stats", Reply(200, {"intentDistribution": {"a": 3, "b": 5}}))
    server.on(
        "POST", f"/models/{MODEL}/train", Reply(202, {"trainingId": "t-1", "status": "QUEUED"})
    )
    server.on(
        "GET", STATUS, Reply(200, {"trainingId": "t-1", "status": "COMPLETED", "progress": 100})
    )
    server.on("GET", METRICS, Reply(200, GOOD_METRICS))
    server.on(
        "POST",
        f"/models/{MODEL}/training/t-1/cancel",
        Reply(200, {"trainingId": "t-1", "status": "CANCELLED"}),
    )
    server.on("GET", f"/models/{MODEL}/versions/production", Reply(200, {"versionId": None}))
    server.on(
        "POST",
        f"/models/{MODEL}/versions/v-3/predict",
        Reply(200, {"predictions": [{"intent": "a", "confidence": 0.8}]}),
    )
    server.on(
        "POST",
        f"/models/{MODEL}/versions/v-3/promote",
        Reply(200, {"versionId": "v-3", "environment": "production"}),
    )

    assert client.dataset_stats("ds-1").intent_distribution == {"a": 3, "b": 5}
    body = {"datasetIds": ["ds-1"], "validationSplit": 0.2, "hyperparameters": {"epochs": 20}}
    assert client.start_training(MODEL, body, idempotency_key="key-12345").training_id == "t-1"
    assert client.training_status(MODEL, "t-1").progress == 100
    metrics = client.training_metrics(MODEL, "t-1")
    assert metrics.per_intent is not None and metrics.per_intent["greet"].support == 4
    assert client.cancel_training(MODEL, "t-1").status == "CANCELLED"
    assert client.production_version(MODEL).version_id is None
    assert client.predict(MODEL, "v-3", ["hello"]).predictions[0].intent == "a"
    promoted = client.promote(MODEL, "v-3", "production")
    assert promoted.environment == "production"
    assert server.requests_to(f"/models/{MODEL}/versions/v-3/promote")[0].json() == {
        "environment": "production"
    }
    assert server.tokens_issued == 1


def test_unknown_fields_are_tolerated(server: ScriptedServer, client: TrainingClient) -> None:
    server.on("GET", METRICS, Reply(200, GOOD_METRICS))
    assert client.training_metrics(MODEL, "t-1").f1_score == 0.91


def test_malformed_json_is_a_contract_error_naming_the_endpoint(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on("GET", STATUS, Reply(200, '{"trainingId": "t-1", "status": '))
    with pytest.raises(ContractError) as caught:
        client.training_status(MODEL, "t-1")
    assert "getTrainingStatus" in str(caught.value)
    assert "not valid JSON" in str(caught.value)
    assert caught.value.body == '{"trainingId": "t-1", "status": '


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"versionId": "v", "f1Score": 0.9, "precision": 0.9}, "field 'recall': missing"),
        ({**GOOD_METRICS, "f1Score": "0.9"}, "field 'f1Score'"),
        ({**GOOD_METRICS, "perIntent": {"a": {"support": -1}}}, "field 'perIntent.a.support'"),
    ],
)
def test_missing_fields_and_wrong_types_are_named(
    server: ScriptedServer, client: TrainingClient, body: dict[str, object], field: str
) -> None:
    server.on("GET", METRICS, Reply(200, body))
    with pytest.raises(ContractError) as caught:
        client.training_metrics(MODEL, "t-1")
    assert field in str(caught.value)
    assert "getTrainingMetrics" in caught.value.call


def test_an_unknown_training_status_is_named_plainly(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on("GET", STATUS, Reply(200, {"trainingId": "t-1", "status": "PAUSED"}))
    with pytest.raises(ContractError) as caught:
        client.training_status(MODEL, "t-1")
    assert "unknown training status 'PAUSED'" in str(caught.value)
    assert "QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED" in str(caught.value)


def test_a_status_response_exposes_its_retry_after(
    server: ScriptedServer, client: TrainingClient
) -> None:
    running = {"trainingId": "t-1", "status": "RUNNING"}
    server.on("GET", STATUS, Reply(200, running, {"Retry-After": "20"}), Reply(200, running))
    assert client.training_status(MODEL, "t-1").retry_after == 20.0
    assert client.training_status(MODEL, "t-1").retry_after is None


@pytest.mark.parametrize("status", [404, 501])
def test_a_missing_extension_raises_extension_unavailable(
    server: ScriptedServer, client: TrainingClient, status: int
) -> None:
    server.on("POST", f"/models/{MODEL}/training/t-1/cancel", Reply(status, {"title": "Not Found"}))
    server.on("GET", f"/models/{MODEL}/versions/production", Reply(status, None))
    server.on("POST", f"/models/{MODEL}/versions/v-1/predict", Reply(status, None))
    with pytest.raises(FeatureUnavailable, match="cancelTraining"):
        client.cancel_training(MODEL, "t-1")
    with pytest.raises(FeatureUnavailable, match="getProductionVersion"):
        client.production_version(MODEL)
    with pytest.raises(FeatureUnavailable, match="optional endpoint"):
        client.predict(MODEL, "v-1", ["hi"])


def test_a_404_on_a_core_endpoint_is_an_api_error_with_a_hint(
    server: ScriptedServer, client: TrainingClient
) -> None:
    with pytest.raises(ApiError) as caught:
        client.training_metrics("no-such-model", "t-1")
    assert not isinstance(caught.value, FeatureUnavailable)
    assert caught.value.status == 404
    assert "COGNIGY_MODEL_ID" in str(caught.value)


def test_a_400_lists_the_fields_the_service_rejected(
    server: ScriptedServer, client: TrainingClient
) -> None:
    problem = {
        "type": "https://example.com/validation",
        "title": "Bad Request",
        "status": 400,
        "detail": "invalid training request",
        "errors": [{"field": "hyperparameters.epochs", "message": "must be >= 10"}],
        "traceId": "trace-400",
    }
    server.on("POST", f"/models/{MODEL}/train", Reply(400, problem))
    with pytest.raises(ApiError) as caught:
        client.start_training(MODEL, {"datasetIds": ["d"]}, idempotency_key="key-00000001")
    text = str(caught.value)
    assert "hyperparameters.epochs: must be >= 10" in text
    assert "traceId trace-400" in text
    assert caught.value.title == "Bad Request"


def test_long_error_bodies_are_trimmed(server: ScriptedServer, client: TrainingClient) -> None:
    server.on("GET", STATUS, Reply(500, "x" * 10_000, content_type="text/html"))
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    assert caught.value.body is not None and len(caught.value.body) < 2100
    assert caught.value.body.endswith("... (8000 more characters)")


def test_predict_checks_its_batch_limit_and_the_answer_length(
    server: ScriptedServer, client: TrainingClient
) -> None:
    with pytest.raises(ValueError, match=r"1\.\.100"):
        client.predict(MODEL, "v-1", ["t"] * 101)
    server.on("POST", f"/models/{MODEL}/versions/v-1/predict", Reply(200, {"predictions": []}))
    with pytest.raises(ContractError, match="2 texts sent but 0 predictions"):
        client.predict(MODEL, "v-1", ["a", "b"])


def test_an_id_that_would_leave_its_path_segment_is_never_sent(
    server: ScriptedServer, client: TrainingClient
) -> None:
    # Once URL-encoding kept "/" inside the segment; a dot segment ("..") survived it and
    # clients and servers remove those, so such an id is now refused before sending.
    before = len(server.seen)
    with pytest.raises(ContractError, match="nothing was sent"):
        client.dataset_stats("../../admin")
    assert len(server.seen) == before


def test_no_secret_or_token_in_any_error_text_body_or_log_record(
    server: ScriptedServer,
    make_client: Callable[..., TrainingClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    token = client.token().access_token
    echo = f"token {token} secret {CLIENT_SECRET}"
    leaky = {"title": echo, "detail": echo, "traceId": "t", "access_token": token}
    server.on("GET", STATUS, Reply(503, leaky), Reply(401, leaky), Reply(500, leaky))
    server.on("GET", METRICS, Reply(200, {**GOOD_METRICS, "f1Score": echo}))
    server.on("POST", "/auth/token", Reply(200, {"access_token": "tok-2-s3cr3t", "expires_in": 99}))
    errors: list[ApiError] = []
    for call in (
        lambda: client.training_status(MODEL, "t-1"),
        lambda: client.training_metrics(MODEL, "t-1"),
    ):
        with pytest.raises(ApiError) as caught:
            call()
        errors.append(caught.value)
    texts = [str(e) for e in errors] + [e.body or "" for e in errors]
    texts += [str(e.title) + str(e.detail) for e in errors]
    texts += [r.getMessage() for r in caplog.records]
    for secret in (token, "tok-2-s3cr3t", CLIENT_SECRET):
        assert all(secret not in text for text in texts), secret
    assert any("***" in text for text in texts)

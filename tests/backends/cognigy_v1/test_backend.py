"""CognigyV1Backend: the Backend interface mapped onto the v1 client."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ci_trainer.backend_types import JobState, Target, TrainingJob, TrainingRequest
from ci_trainer.backends.base import Backend
from ci_trainer.backends.cognigy_v1.backend import CognigyV1Backend
from ci_trainer.errors import FeatureUnavailable
from ci_trainer.redact import Redactor
from ci_trainer.settings import Settings

from .conftest import CLIENT_ID, CLIENT_SECRET, MODEL
from .server import Reply, ScriptedServer
from .test_client import GOOD_METRICS

TARGET = Target(id=MODEL, label=f"model {MODEL}")
JOB = TrainingJob(
    target=TARGET,
    training_id="t-1",
    idempotency_key="run-1-attempt-1",
    started_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
)


def test_it_is_a_backend_with_one_target_the_model(backend: CognigyV1Backend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == "cognigy-v1"
    assert backend.targets() == [TARGET]


def test_status_maps_state_progress_resources_and_retry_after(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    body = {
        "trainingId": "t-1",
        "status": "RUNNING",
        "progress": 42,
        "resourceUtilization": {"cpu": 71.5, "memory": 33},
    }
    server.on(
        "GET", f"/models/{MODEL}/training/t-1/status", Reply(200, body, {"Retry-After": "15"})
    )
    status = backend.training_status(JOB)
    assert status.state is JobState.RUNNING and status.raw_status == "RUNNING"
    assert status.progress == pytest.approx(0.42)
    assert (status.cpu_percent, status.memory_percent) == (71.5, 33)
    assert status.retry_after_seconds == 15


def test_failed_status_keeps_the_services_message(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    body = {"trainingId": "t-1", "status": "FAILED", "message": "out of memory"}
    server.on("GET", f"/models/{MODEL}/training/t-1/status", Reply(200, body))
    status = backend.training_status(JOB)
    assert status.state.terminal and status.message == "out of memory"
    assert status.progress is None


def test_metrics_map_weighted_macro_per_intent_and_convergence(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    server.on("GET", f"/models/{MODEL}/training/t-1/metrics", Reply(200, GOOD_METRICS))
    metrics = backend.training_metrics(JOB)
    assert (metrics.version_id, metrics.f1, metrics.precision, metrics.recall) == (
        "v-3",
        0.91,
        0.9,
        0.92,
    )
    assert metrics.accuracy == 0.93 and metrics.macro_f1 == 0.88
    (greet,) = metrics.per_intent
    assert (greet.intent, greet.precision, greet.recall, greet.f1, greet.support) == (
        "greet",
        1.0,
        0.5,
        0.67,
        4,
    )
    (point,) = metrics.convergence
    assert (point.epoch, point.train_loss, point.validation_f1) == (1, 0.7, 0.6)


def test_metrics_without_extensions_leave_them_empty(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    plain = {"versionId": "v-1", "f1Score": 0.8, "precision": 0.7, "recall": 0.9}
    server.on("GET", f"/models/{MODEL}/training/t-1/metrics", Reply(200, plain))
    metrics = backend.training_metrics(JOB)
    assert metrics.macro_f1 is None and metrics.per_intent == [] and metrics.convergence == []


def test_start_training_sends_the_contract_body_and_the_key(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    server.on("POST", f"/models/{MODEL}/train", Reply(202, {"trainingId": "t-9"}))
    request = TrainingRequest(
        dataset_ids=["ds-1", "ds-2"],
        validation_split=0.25,
        hyperparameters={"epochs": 30, "batch_size": 16, "learning_rate": 0.01, "seed": 7},
    )
    job = backend.start_training(TARGET, request, "run-1-attempt-1")
    assert (job.training_id, job.idempotency_key, job.target) == ("t-9", "run-1-attempt-1", TARGET)
    (sent,) = server.requests_to(f"/models/{MODEL}/train")
    assert sent.headers["idempotency-key"] == "run-1-attempt-1"
    assert sent.json() == {
        "datasetIds": ["ds-1", "ds-2"],
        "validationSplit": 0.25,
        "hyperparameters": {"epochs": 30, "batchSize": 16, "learningRate": 0.01, "seed": 7},
    }


def test_predict_batches_by_the_contracts_limit_and_keeps_order(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    path = f"/models/{MODEL}/versions/v-3/predict"
    texts = [f"text {i}" for i in range(250)]

    def answer(start: int, count: int) -> Reply:
        return Reply(200, {"predictions": [{"intent": f"i{start + k}"} for k in range(count)]})

    server.on("POST", path, answer(0, 100), answer(100, 100), answer(200, 50))
    predictions = backend.predict(TARGET, "v-3", texts)
    assert [p.intent for p in predictions] == [f"i{i}" for i in range(250)]
    assert [len(s.json()["texts"]) for s in server.requests_to(path)] == [100, 100, 50]
    assert server.requests_to(path)[2].json()["texts"][0] == "text 200"


def test_production_version_is_none_until_something_was_promoted(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    path = f"/models/{MODEL}/versions/production"
    promoted = {
        "versionId": "v-2",
        "promotedAt": "2026-11-01T10:00:00Z",
        "metrics": {"versionId": "v-2", "f1Score": 0.8, "precision": 0.8, "recall": 0.8},
    }
    server.on("GET", path, Reply(200, {"versionId": None, "metrics": None}), Reply(200, promoted))
    assert backend.production_version(TARGET) is None
    version = backend.production_version(TARGET)
    assert version is not None and version.version_id == "v-2"
    assert version.metrics is not None and version.metrics.f1 == 0.8
    assert version.promoted_at == datetime(2026, 11, 1, 10, tzinfo=timezone.utc)


def test_a_missing_extension_raises_and_is_not_asked_for_again(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    """FeatureUnavailable is the one way to say "not offered": the method raises it,
    and after the first 404 the backend answers so without another request."""
    predict = f"/models/{MODEL}/versions/v-1/predict"
    production = f"/models/{MODEL}/versions/production"
    assert backend.cancel_training(JOB) is False  # the scripted server has no cancel
    for _ in range(2):
        with pytest.raises(FeatureUnavailable):
            backend.predict(TARGET, "v-1", ["hello"])
        with pytest.raises(FeatureUnavailable):
            backend.production_version(TARGET)
    assert len(server.requests_to(predict)) == 1
    assert len(server.requests_to(production)) == 1
    assert backend.cancel_training(JOB) is False
    assert len(server.requests_to(f"/models/{MODEL}/training/t-1/cancel")) == 1


def test_cancel_returns_true_when_the_service_accepts(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    path = f"/models/{MODEL}/training/t-1/cancel"
    server.on("POST", path, Reply(200, {"trainingId": "t-1", "status": "CANCELLED"}))
    assert backend.cancel_training(JOB) is True


def test_check_access_reports_granted_and_missing_scopes(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    server.token_scope = "model:read training:read training:write"
    access = backend.check_access()
    assert access.granted_scopes == ["model:read", "training:read", "training:write"]
    assert access.missing_scopes == ["model:write"]


def test_dataset_stats_fill_in_counts_the_service_left_out(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    body = {"intentDistribution": {"a": 3, "b": 5}, "averageAnnotationScore": None}
    server.on("GET", "/datasets/ds-1/stats", Reply(200, body))
    stats = backend.dataset_stats("ds-1")
    assert (stats.dataset_id, stats.example_count, stats.intent_count) == ("ds-1", 8, 2)
    assert stats.average_annotation_score is None


def test_promote_reports_the_done_step_and_production_read_back(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    path = f"/models/{MODEL}/versions/v-3/promote"
    body = {"versionId": "v-3", "environment": "production", "previousVersionId": "v-2"}
    server.on("POST", path, Reply(200, body))
    production = {"versionId": "v-3", "environment": "production"}
    server.on("GET", f"/models/{MODEL}/versions/production", Reply(200, production))
    promotion = backend.promote(TARGET, "v-3", "production")
    assert promotion.promoted and promotion.environment == "production"
    promote, read_back = promotion.steps
    assert (promote.name, promote.status, promote.detail) == (
        "promote",
        "done",
        "previous version v-2",
    )
    assert (read_back.status, read_back.detail) == (
        "done",
        "production shows version v-3 in production",
    )


def test_from_settings_uses_the_base_url_rules(server: ScriptedServer) -> None:
    env = {
        "COGNIGY_BASE_URL": server.url,
        "COGNIGY_CLIENT_ID": CLIENT_ID,
        "COGNIGY_CLIENT_SECRET": CLIENT_SECRET,
    }
    backend = CognigyV1Backend.from_settings(Settings.from_env(env), MODEL, Redactor())
    try:
        assert backend.check_access().missing_scopes == []
    finally:
        backend.close()

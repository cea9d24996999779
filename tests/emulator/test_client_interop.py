"""Our own REST client against the emulator: both read the same contract and must agree."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.datasets import load_dataset
from ci_trainer.emulator.faults import Fault, FaultPlan
from ci_trainer.redact import Redactor

from .conftest import DATASETS, MODEL, SAMPLE_HOLDOUT, train_body


@pytest.fixture
def client() -> Iterator[tuple[Emulator, TrainingClient]]:
    plan = FaultPlan.of(Fault("startTraining", "job_stuck", calls=(2,)))
    with Emulator(DATASETS, fault_plan=plan) as emu:
        api = TrainingClient(emu.base_url, emu.client_id, emu.client_secret, redactor=Redactor())
        try:
            yield emu, api
        finally:
            api.close()


def _wait(api: TrainingClient, training_id: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        status = api.training_status(MODEL, training_id).status
        if status in ("COMPLETED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.02)


def test_every_operation_through_the_typed_client(
    client: tuple[Emulator, TrainingClient],
) -> None:
    emu, api = client
    api.token()
    assert api.granted_scopes == emu.service.auth.credentials.scopes
    stats = api.dataset_stats("ds-smalltalk")
    assert stats.intent_count == 4 and stats.average_annotation_score is None

    started = api.start_training(MODEL, train_body(), idempotency_key="interop-key-0001")
    assert _wait(api, started.training_id) == "COMPLETED"
    metrics = api.training_metrics(MODEL, started.training_id)
    assert metrics.macro is not None and 0.5 < metrics.macro.f1 <= 1.0  # type: ignore[operator]
    assert len(metrics.convergence_history) >= 1

    assert api.production_version(MODEL).version_id is None
    holdout = load_dataset(SAMPLE_HOLDOUT)
    predicted = api.predict(MODEL, metrics.version_id, holdout.texts)
    hits = sum(
        p.intent == truth for p, truth in zip(predicted.predictions, holdout.labels, strict=True)
    )
    assert hits / len(holdout.labels) > 0.8
    promotion = api.promote(MODEL, metrics.version_id, "production")
    assert promotion.previous_version_id is None
    production = api.production_version(MODEL)
    assert production.version_id == metrics.version_id
    assert production.metrics is not None

    stuck = api.start_training(MODEL, train_body(seed=9), idempotency_key="interop-key-0002")
    assert api.cancel_training(MODEL, stuck.training_id).status == "CANCELLED"
    replay = api.start_training(MODEL, train_body(), idempotency_key="interop-key-0001")
    assert replay.training_id == started.training_id
    assert len(emu.state.trainings) == 2

"""Pipeline stages against a scripted in-memory Backend: the paths no HTTP service shows.

The emulator covers the contract end to end (tests/run); these pin down what the
pipeline does when a backend answers in ways the v1 emulator never does (a v2-style
service without scopes, a promotion the service declined, no targets, ...).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_trainer.backend_types import (
    AccessCheck,
    DatasetStats,
    EvalMetrics,
    IntentScore,
    JobState,
    JobStatus,
    ModelVersion,
    Prediction,
    Promotion,
    Target,
    TrainingJob,
    TrainingRequest,
)
from ci_trainer.config import load_config
from ci_trainer.decision import Decision
from ci_trainer.errors import AuthError, FeatureUnavailable, TrainingFailed
from ci_trainer.pipeline.flow import Pipeline
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import Mode, RunResult

INTENTS = {
    "greet": [f"hello number {i}" for i in range(12)],
    "bye": [f"goodbye number {i}" for i in range(12)],
}


class ScriptedBackend:
    """Answers from fields a test sets; records what the pipeline asked."""

    name = "scripted"

    def __init__(self) -> None:
        self.granted: list[str] = [
            "model:read",
            "model:write",
            "training:read",
            "training:write",
        ]
        self.missing: list[str] = []
        self.target_list = [Target(id="m1", label="model m1")]
        self.statuses = [JobStatus(state=JobState.COMPLETED, raw_status="COMPLETED", progress=1.0)]
        self.metrics = EvalMetrics(
            version_id="v-new",
            f1=0.95,
            precision=0.95,
            recall=0.95,
            per_intent=[IntentScore(intent="greet", f1=0.9), IntentScore(intent="bye", f1=0.99)],
        )
        self.production: list[ModelVersion | None] = [None]
        self.promoted = True
        self.calls: list[str] = []

    def targets(self) -> list[Target]:
        return self.target_list

    def check_access(self) -> AccessCheck:
        return AccessCheck(granted_scopes=self.granted, missing_scopes=self.missing)

    def dataset_stats(self, dataset_id: str) -> DatasetStats:
        return DatasetStats(
            dataset_id=dataset_id,
            example_count=24,
            intent_count=2,
            intent_distribution={"greet": 12, "bye": 12},
        )

    def production_version(self, target: Target) -> ModelVersion | None:
        self.calls.append("production")
        return self.production.pop(0) if len(self.production) > 1 else self.production[0]

    def training_payload(self, target: Target, request: TrainingRequest) -> dict[str, Any]:
        return {"datasetIds": list(request.dataset_ids)}

    def start_training(
        self, target: Target, request: TrainingRequest, idempotency_key: str
    ) -> TrainingJob:
        self.calls.append("train")
        return TrainingJob(
            target=target,
            training_id=f"t{self.calls.count('train')}",
            idempotency_key=idempotency_key,
            started_at=datetime.now(timezone.utc),
        )

    def training_status(self, job: TrainingJob) -> JobStatus:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def cancel_training(self, job: TrainingJob) -> bool:
        self.calls.append("cancel")
        return True

    def training_metrics(self, job: TrainingJob) -> EvalMetrics:
        return self.metrics

    def predict(self, target: Target, version_id: str, texts: Sequence[str]) -> list[Prediction]:
        raise FeatureUnavailable("the scripted service has no predict endpoint")

    def promote(self, target: Target, version_id: str, environment: str) -> Promotion:
        self.calls.append("promote")
        return Promotion(version_id=version_id, environment=environment, promoted=self.promoted)

    def close(self) -> None:
        pass

    def warnings(self) -> list[str]:
        return []


def run(
    tmp_path: Path,
    backend: ScriptedBackend | None,
    mode: Mode = Mode.TRAIN,
    config: dict[str, Any] | None = None,
    on_training_started: Callable[[], None] | None = None,
) -> RunResult:
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(INTENTS), encoding="utf-8")
    document = {
        "version": 1,
        "model": {"id": "m1"},
        "datasets": [{"id": "ds", "path": "data.yaml"}],
        "training": {"poll_interval_floor_seconds": 0.1},
        **(config or {}),
    }
    path = tmp_path / "training-config.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    loaded = load_config(path, workspace=tmp_path)
    now = datetime.now(timezone.utc)
    result = RunResult(
        run_uuid="uuid-1",
        tool_version="test",
        backend="scripted",
        mode=mode,
        decision=Decision.FAILED,
        reason="not finished",
        started_at=now,
        finished_at=now,
        duration_seconds=0.0,
        config_sha256=loaded.sha256,
    )
    pipeline = Pipeline(
        loaded,
        backend=backend,
        mode=mode,
        run_uuid=result.run_uuid,
        reporter=ConsoleReporter(io.StringIO()),
        stop=threading.Event(),
        on_training_started=on_training_started,
    )
    # The verdict as the lifecycle turns it into the run's record.
    return result.model_copy(update=pipeline.run().result_fields())


def test_passing_candidate_in_train_mode_is_approved_without_promotion(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    result = run(tmp_path, backend)
    assert result.decision is Decision.APPROVED
    assert "promote" not in backend.calls
    assert result.champion_note is not None and "no holdout set" in result.champion_note
    assert [s.intent for s in result.weakest_intents] == ["greet", "bye"]


def test_without_predict_the_gate_uses_thresholds_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "holdout.yaml").write_text(
        yaml.safe_dump({"greet": ["hi there"], "bye": ["see you"]}), encoding="utf-8"
    )
    backend = ScriptedBackend()
    backend.production = [ModelVersion(version_id="v-old")]
    result = run(tmp_path, backend, config={"holdout": {"path": "holdout.yaml"}})
    assert result.decision is Decision.APPROVED
    assert result.champion is None
    assert result.champion_note == (
        "the service has no predict endpoint; the gate used the thresholds alone"
    )


def test_a_promotion_the_service_declines_fails(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.promoted = False
    result = run(tmp_path, backend, Mode.PROMOTE)
    assert result.decision is Decision.FAILED
    assert result.promotion.attempted and not result.promotion.promoted
    assert "did not promote" in result.reason


def test_production_moving_between_reads_blocks_promotion(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.production = [ModelVersion(version_id="v1"), ModelVersion(version_id="v2")]
    result = run(tmp_path, backend, Mode.PROMOTE)
    assert result.decision is Decision.FAILED
    assert "production changed during this run (from v1 to v2)" in result.reason
    assert "promote" not in backend.calls


def test_a_service_without_scopes_in_its_token_is_not_blocked(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.granted = []  # e.g. an API key: the service enforces access itself
    assert run(tmp_path, backend, Mode.PROMOTE).decision is Decision.PROMOTED


def test_a_missing_scope_reported_by_the_backend_stops_before_training(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.granted = ["training:read", "training:write", "model:read"]
    backend.missing = ["model:write"]
    with pytest.raises(AuthError, match="model:write"):
        run(tmp_path, backend, Mode.PROMOTE)
    assert "train" not in backend.calls


def test_validate_mode_needs_only_read_access(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.granted = ["training:read"]
    assert run(tmp_path, backend, Mode.VALIDATE).decision is Decision.VALIDATED
    assert backend.calls == []


def test_no_targets_is_a_clear_failure(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.target_list = []
    with pytest.raises(TrainingFailed, match="nothing to train"):
        run(tmp_path, backend)


def test_a_job_cancelled_by_someone_else_fails_with_a_hint(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.statuses = [
        JobStatus(state=JobState.CANCELLED, raw_status="CANCELLED", message="by an admin")
    ]
    with pytest.raises(TrainingFailed, match="ended CANCELLED: by an admin") as caught:
        run(tmp_path, backend)
    assert caught.value.hint is not None and "cancelled the job" in caught.value.hint


def test_resource_samples_and_status_changes_are_recorded(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.statuses = [
        JobStatus(state=JobState.QUEUED, raw_status="QUEUED"),
        JobStatus(state=JobState.RUNNING, raw_status="RUNNING", progress=0.5, cpu_percent=70.0),
        JobStatus(state=JobState.RUNNING, raw_status="RUNNING", progress=0.9, cpu_percent=40.0),
        JobStatus(state=JobState.COMPLETED, raw_status="COMPLETED", progress=1.0),
    ]
    result = run(tmp_path, backend)
    assert result.attempts[0].status_requests == 4
    assert result.resources.samples == 2
    assert (result.resources.peak_cpu_percent, result.resources.last_cpu_percent) == (70.0, 40.0)


def test_gate_thresholds_reject_with_the_metric_in_the_reason(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    result = run(tmp_path, backend, config={"gate": {"min_f1": 0.99}})
    assert result.decision is Decision.REJECTED
    assert result.reason.startswith("F1 0.950 < 0.990")


def test_the_training_started_hook_runs_once_across_retries(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.statuses = [
        JobStatus(state=JobState.FAILED, raw_status="FAILED", message="out of memory"),
        JobStatus(state=JobState.COMPLETED, raw_status="COMPLETED", progress=1.0),
    ]
    calls: list[str] = []
    result = run(
        tmp_path,
        backend,
        config={
            "training": {"poll_interval_floor_seconds": 0.1, "retry_on_failure": {"attempts": 1}}
        },
        on_training_started=lambda: calls.append(backend.calls[-1]),
    )
    assert result.decision is Decision.APPROVED
    assert len(result.attempts) == 2
    assert calls == ["train"]  # once, right after the first job was started

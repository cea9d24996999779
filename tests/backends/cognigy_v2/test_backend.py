"""The cognigy-v2 Backend against the v2 emulator: targets, import + train, Task states,
failure and cancellation, Intent Analyzer metrics, nlu/scores predictions, promotion."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ci_trainer.backend_types import JobState, JobStatus, TrainingJob, TrainingRequest
from ci_trainer.backends.base import Backend
from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.emulator.app import V2Variants
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.options import COMBINED_TARGET_ID, V2Target
from ci_trainer.errors import ApiError, Interrupted, TrainingFailed

from .conftest import (
    DE,
    EN,
    PROJECT,
    SHOP_FLOW,
    TALK_FLOW,
    TARGET_PROJECT,
    EmulatorFactory,
    make_backend,
)

REQUEST = TrainingRequest(dataset_ids=[], validation_split=0.2, hyperparameters={})


def run_to_end(backend: CognigyV2Backend, job: TrainingJob, timeout: float = 30) -> JobStatus:
    deadline = time.monotonic() + timeout
    status = backend.training_status(job)
    while not status.state.terminal and time.monotonic() < deadline:
        time.sleep(0.02)
        status = backend.training_status(job)
    return status


def test_it_is_a_backend_with_one_target_per_flow_and_locale(
    emu: V2Emulator, intents_dir: Path
) -> None:
    backend = make_backend(emu, intents_dir)
    assert isinstance(backend, Backend)
    combined, *singles = backend.targets()
    assert combined.id == COMBINED_TARGET_ID
    assert [t.id for t in singles] == [
        f"{SHOP_FLOW}/{EN}",
        f"{SHOP_FLOW}/{DE}",
        f"{TALK_FLOW}/{EN}",
    ]


def test_check_access_names_flows_and_locales(emu: V2Emulator, intents_dir: Path) -> None:
    backend = make_backend(emu, intents_dir)
    assert backend.check_access().missing_scopes == []
    labels = [t.label for t in backend.target_list()]
    assert labels == ["Shop/locale-1", "Shop/locale-2", "Smalltalk/locale-1"]


def test_an_unknown_locale_fails_the_access_check_with_the_config_field(
    emu: V2Emulator, intents_dir: Path
) -> None:
    backend = make_backend(emu, intents_dir, targets=(V2Target(SHOP_FLOW, "9" * 24),))
    with pytest.raises(ApiError, match=r"cognigy_v2\.targets"):
        backend.check_access()


def test_several_targets_import_train_and_report_the_weakest(
    emu: V2Emulator, intents_dir: Path
) -> None:
    backend = make_backend(emu, intents_dir, max_parallel=2)
    backend.check_access()
    combined = backend.targets()[0]
    job = backend.start_training(combined, REQUEST, "key-1")
    assert len(emu.app.calls("/intents/import")) == 3
    assert len(emu.app.calls("/intents/train")) == 2  # bounded: the third waits
    final = run_to_end(backend, job)
    assert final.state is JobState.COMPLETED, final
    assert len(emu.app.calls("/intents/train")) == 3
    # every Task id is on the record: "Shop/locale-1: train task <id>, import task <id>; ..."
    assert final.message is not None
    assert final.message.count("train task") == 3 and final.message.count("import task") == 3
    assert all(task_id in final.message for task_id in backend.import_tasks.values())
    metrics = backend.training_metrics(job)
    assert metrics.precision is None and metrics.recall is None
    assert metrics.f1 is not None and 0.0 <= metrics.f1 <= 1.0
    assert metrics.version_id.startswith(f"{PROJECT}:")
    names = {score.intent for score in metrics.per_intent}
    assert "Shop/locale-2: cancel_order" in names
    assert "Smalltalk/locale-1: greeting" in names
    # The run's F1 is the lowest target's, whichever flow and locale that is.
    flows = [emu.service.projects[PROJECT].content.flows[f] for f in (SHOP_FLOW, TALK_FLOW)]
    reported = [
        g.flow_report["info"]["fScore"]
        for flow in flows
        for g in flow.groups.values()
        if g.flow_report is not None
    ]
    assert metrics.f1 == min(reported)
    # Each target's own figures come with the combined ones; the lowest (here two, tied:
    # Shop is trained on one file in both locales) say they set the combined F1.
    assert [t.label for t in metrics.targets] == [
        "Shop/locale-1",
        "Shop/locale-2",
        "Smalltalk/locale-1",
    ]
    assert sorted(t.f1 for t in metrics.targets if t.f1 is not None) == sorted(reported)
    lowest = [t.label for t in metrics.targets if t.f1 == metrics.f1]
    assert [t.label for t in metrics.targets if "f1" in t.sets_combined] == lowest


def test_findings_from_the_intent_analyzer_are_kept(emu: V2Emulator, intents_dir: Path) -> None:
    backend = make_backend(
        emu, intents_dir, targets=(V2Target(TALK_FLOW, EN, intents_dir / "smalltalk.csv"),)
    )
    backend.check_access()
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    assert run_to_end(backend, job).state is JobState.COMPLETED
    assert backend.training_metrics(job).targets == []  # one target: its own figures
    first = list(backend.findings)
    backend.training_metrics(job)
    assert backend.findings == first  # read again, not doubled
    kinds = {f.type for f in backend.findings}
    assert kinds & {"goodAccuracy", "fairAccuracy", "poorAccuracy"}
    # six sentences per intent, so none is "few"; a flow finding is never intent-bound
    assert all(f.intent is None for f in backend.findings if f.type.endswith("Accuracy"))


def test_a_failed_task_fails_the_job_with_its_reason_and_cancels_the_rest(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.service.fail_next_task("trainIntents", "out of NLU capacity")
    backend = make_backend(emu, intents_dir, import_mode=None, max_parallel=3)
    backend.check_access()
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    final = run_to_end(backend, job)
    assert final.state is JobState.FAILED
    assert final.message and "out of NLU capacity" in final.message
    assert "Shop/locale-1" in final.message


def test_cancel_training_cancels_every_live_task(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    emu = make_emulator(task_seconds=30)
    backend = make_backend(emu, intents_dir, import_mode=None, max_parallel=3)
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    assert backend.training_status(job).state is JobState.QUEUED
    assert backend.cancel_training(job) is True
    assert len(emu.app.calls("/cancel")) == 3
    final = run_to_end(backend, job)
    assert final.state is JobState.CANCELLED
    assert final.raw_status == "cancelled"


def test_an_import_that_fails_stops_before_training(emu: V2Emulator, intents_dir: Path) -> None:
    bad = intents_dir / "bad.json"
    bad.write_text('[{"name": "x", "exampleSentences": "not a list"}]', encoding="utf-8")
    backend = make_backend(emu, intents_dir, targets=(V2Target(SHOP_FLOW, EN, bad),))
    with pytest.raises(Exception, match=r"importing bad\.json") as caught:
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert "exampleSentences" in str(caught.value)
    assert emu.app.calls("/intents/train") == []


def test_a_stop_while_waiting_for_an_import_cancels_its_task(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    emu = make_emulator(task_seconds=30)
    stop = threading.Event()
    backend = make_backend(emu, intents_dir, stop=stop)
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(Interrupted):
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert len(emu.app.calls("/cancel")) == 1


def test_an_import_task_that_outlives_its_timeout_is_cancelled_and_fails(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    emu = make_emulator(task_seconds=30)
    backend = make_backend(emu, intents_dir, task_poll_seconds=0.05, task_timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(TrainingFailed, match=r"importing shop\.json .* within 0\.3 s") as caught:
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert time.monotonic() - started < 5  # the deadline bounds the wait
    assert "cognigy_v2.task_timeout_minutes" in str(caught.value)
    assert len(emu.app.calls("/cancel")) == 1
    reads = emu.app.calls("/tasks/")
    assert 2 <= len([r for r in reads if r.method == "GET"]) <= 8  # a fixed beat, not a spin
    assert emu.app.calls("/intents/train") == []


@pytest.mark.parametrize("shape", ["array", "object"])
def test_predict_scores_the_holdout_target_one_request_per_text(
    make_emulator: EmulatorFactory, intents_dir: Path, shape: str
) -> None:
    emu = make_emulator(V2Variants(scores_shape=shape))
    backend = make_backend(emu, intents_dir, import_mode=None, holdout_target=2)
    backend.check_access()
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    assert run_to_end(backend, job).state is JobState.COMPLETED
    version = backend.training_metrics(job).version_id
    predictions = backend.predict(backend.targets()[0], version, ["hello there", "bye now"])
    assert [p.intent for p in predictions] == ["greeting", "goodbye"]
    assert all(p.confidence is not None for p in predictions)
    assert len(emu.app.calls("/nlu/scores")) == 2


def test_promote_restores_the_snapshot_into_the_target_project(
    emu: V2Emulator, intents_dir: Path
) -> None:
    backend = make_backend(
        emu, intents_dir, target_project_id=TARGET_PROJECT, snapshot_name="ci-trainer-run-1"
    )
    backend.check_access()
    target = backend.targets()[0]
    assert backend.production_version(target) is None  # nothing promoted yet
    job = backend.start_training(target, REQUEST, "k")
    assert run_to_end(backend, job).state is JobState.COMPLETED
    promotion = backend.promote(target, backend.training_metrics(job).version_id, "production")
    assert promotion.promoted, promotion.steps
    assert [s.name for s in promotion.steps] == [
        "create snapshot",
        "find snapshot",
        "package snapshot",
        "download package",
        "upload to target project",
        "find uploaded snapshot",
        "restore in target project",
    ]
    assert all(s.status == "done" for s in promotion.steps)
    assert promotion.version_id == backend.snapshot_ids[TARGET_PROJECT]
    # the target project now serves the trained flows
    target_flows = emu.service.projects[TARGET_PROJECT].content.flows.values()
    assert {f.name for f in target_flows} == {"Shop", "Smalltalk"}
    production = backend.production_version(target)
    assert production is not None and production.version_id == f"{TARGET_PROJECT}:ci-trainer-run-1"
    shop = backend.predict(target, production.version_id, ["cancel my order"])
    assert shop[0].intent == "cancel_order"
    # once per run, whatever the target
    assert backend.promote(backend.targets()[1], "x", "production") is promotion


def test_promote_without_a_target_project_stops_after_packaging(
    emu: V2Emulator, intents_dir: Path
) -> None:
    backend = make_backend(emu, intents_dir, import_mode=None, snapshot_name="ci-trainer-2")
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted
    assert [s.name for s in promotion.steps] == [
        "create snapshot",
        "find snapshot",
        "package snapshot",
    ]


def _fill_snapshots(emu: V2Emulator, project: str, names: list[str]) -> None:
    for name in names:
        task = emu.service.start_snapshot(project, name, "")
        assert emu.service.wait_task(task.id).status == "done"


def test_at_the_snapshot_limit_promotion_fails_unless_deleting_is_allowed(
    emu: V2Emulator, intents_dir: Path
) -> None:
    _fill_snapshots(
        emu, PROJECT, ["manual-1", "ci-trainer-old", *[f"manual-{i}" for i in range(2, 10)]]
    )
    refused = make_backend(emu, intents_dir, snapshot_name="ci-trainer-new")
    promotion = refused.promote(refused.targets()[0], "v", "production")
    assert not promotion.promoted
    assert promotion.steps[0].name == "snapshot limit"
    assert "delete_oldest_snapshot" in (promotion.steps[-1].detail or "")
    allowed = make_backend(
        emu, intents_dir, snapshot_name="ci-trainer-new", delete_oldest_snapshot=True
    )
    promotion = allowed.promote(allowed.targets()[0], "v", "production")
    assert promotion.promoted
    deleted = promotion.steps[0]
    assert deleted.name == "delete oldest ci-trainer snapshot"
    assert (deleted.detail or "").startswith("ci-trainer-old (task ")
    assert (deleted.detail or "").endswith(" done)")
    names = {s.name for s in emu.service.projects[PROJECT].snapshots.values()}
    assert "ci-trainer-old" not in names and "manual-1" in names


def test_a_failed_snapshot_task_is_a_failed_step(emu: V2Emulator, intents_dir: Path) -> None:
    emu.service.fail_next_task("createSnapshot", "disk full")
    backend = make_backend(emu, intents_dir, snapshot_name="ci-trainer-3")
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert not promotion.promoted
    assert promotion.steps[0].status == "failed"
    assert "disk full" in (promotion.steps[0].detail or "")


def test_without_a_target_project_there_is_no_production_version(
    emu: V2Emulator, intents_dir: Path
) -> None:
    from ci_trainer.errors import FeatureUnavailable

    backend = make_backend(emu, intents_dir)
    with pytest.raises(FeatureUnavailable):
        backend.production_version(backend.targets()[0])
    with pytest.raises(FeatureUnavailable):
        backend.dataset_stats("anything")

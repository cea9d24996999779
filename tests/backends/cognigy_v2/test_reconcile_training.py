"""C1 for training and import: a write whose answer was lost is looked up in the task
list and adopted, re-sent once only when nothing of it is there, and never re-sent
blindly. Against the v2 emulator over real HTTP; whole runs at the end."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest
import yaml

from ci_trainer.backend_types import JobState, JobStatus, TrainingJob, TrainingRequest
from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.emulator.model import TaskRecord
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.backends.cognigy_v2.writes import (
    CLOCK_SKEW_SECONDS,
    TaskQuery,
    created_task,
    may_have_applied,
)
from ci_trainer.decision import Decision
from ci_trainer.errors import ApiError

from .conftest import (
    DE,
    EN,
    FAST,
    PROJECT,
    SHOP_FLOW,
    SHOP_INTENTS,
    make_backend,
    make_client,
    run_sample,
)

REQUEST = TrainingRequest(dataset_ids=[], validation_split=0.2, hyperparameters={})
LOGGER = "ci_trainer.backends.cognigy_v2"


def shop_en(intents_dir: Path, emu: V2Emulator, **options: object) -> CognigyV2Backend:
    """A backend for the one target Shop x EN (so its job id is its training Task's id)."""
    options.setdefault("targets", (V2Target(SHOP_FLOW, EN, intents_dir / "shop.json"),))
    return make_backend(emu, intents_dir, **options)


def run_to_end(backend: CognigyV2Backend, job: TrainingJob, timeout: float = 30) -> JobStatus:
    deadline = time.monotonic() + timeout
    status = backend.training_status(job)
    while not status.state.terminal and time.monotonic() < deadline:
        time.sleep(0.02)
        status = backend.training_status(job)
    return status


def tasks_of(emu: V2Emulator, kind: str) -> list[TaskRecord]:
    return [t for t in emu.service.tasks.values() if t.type == kind]


def sends(emu: V2Emulator, path_part: str) -> int:
    return len([r for r in emu.app.calls(path_part) if r.method == "POST"])


def list_reads(emu: V2Emulator) -> int:
    return len([r for r in emu.app.calls("/tasks") if r.path.endswith("/tasks")])


def notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


# ---------------------------------------------------------------------- the verdict


def _api_error(status: int | None = None, **extra: object) -> ApiError:
    return ApiError(call="trainIntents", message_text="failed", status=status, extra=dict(extra))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_api_error(502), True),
        (_api_error(500), True),
        (_api_error(503), True),
        (_api_error(504), True),
        (_api_error(408), True),
        (_api_error(501), False),  # the service has no such operation
        (_api_error(511), False),  # a proxy answered; the service never saw it
        (_api_error(400), False),
        (_api_error(404), False),
        (_api_error(409), False),
        (_api_error(429), False),  # the HTTP layer re-sent it; a final 429 is a refusal
        (_api_error(sent=True, failure="read-timeout"), True),
        (_api_error(sent=True, failure="deadline"), True),
        (_api_error(sent=True, failure="connection"), True),
        (_api_error(sent=False, failure="refused"), False),
        (_api_error(), False),  # refused before sending (an id of the wrong shape)
    ],
)
def test_may_have_applied(error: ApiError, expected: bool) -> None:
    assert may_have_applied(error) is expected


# ---------------------------------------------------------------------- training


def test_a_502_after_the_training_was_applied_adopts_its_task(
    emu: V2Emulator, intents_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu.app.fail_next("trainIntents", 502, style="applied")
    backend = shop_en(intents_dir, emu, import_mode=None)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        job = backend.start_training(backend.targets()[0], REQUEST, "k")
    trainings = tasks_of(emu, "trainIntents")
    assert len(trainings) == 1
    assert sends(emu, "/intents/train") == 1  # not sent again
    assert job.training_id == trainings[0].id  # the run follows the Task the 502 hid
    final = run_to_end(backend, job)
    assert final.state is JobState.COMPLETED, final
    assert final.message is not None and trainings[0].id in final.message
    [line] = notices(caplog)
    assert "answer was lost (HTTP 502)" in line and f"Task {trainings[0].id}" in line


def test_a_502_that_was_not_applied_sends_the_training_once_more(
    emu: V2Emulator, intents_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu.app.fail_next("trainIntents", 502)
    backend = shop_en(intents_dir, emu, import_mode=None)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        job = backend.start_training(backend.targets()[0], REQUEST, "k")
    assert [r.status for r in emu.app.calls("/intents/train")] == [502, 202]
    assert list_reads(emu) == 1  # looked before sending again
    [training] = tasks_of(emu, "trainIntents")
    assert job.training_id == training.id
    assert run_to_end(backend, job).state is JobState.COMPLETED
    [line] = notices(caplog)
    assert "sending it once more" in line


def test_a_read_timeout_after_the_training_was_applied_adopts_its_task(
    emu: V2Emulator, intents_dir: Path
) -> None:
    # The service starts the training, then holds its answer longer than the client waits.
    emu.app.fail_next("trainIntents", 504, style="applied-slow", delay=2.0)
    opts = V2Options(
        project_id=PROJECT,
        targets=(V2Target(SHOP_FLOW, EN),),
        import_mode=None,
        task_poll_seconds=0.02,
        task_timeout_seconds=20.0,
    )
    impatient = dataclasses.replace(FAST, read_timeout=0.5)
    backend = CognigyV2Backend(make_client(emu, policy=impatient), opts)
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    # One Task: no second send (the held request is logged only once it is answered).
    [training] = tasks_of(emu, "trainIntents")
    assert job.training_id == training.id
    assert run_to_end(backend, job).state is JobState.COMPLETED


def test_a_second_lost_answer_after_an_unapplied_one_is_looked_up_too(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 502)
    emu.app.fail_next("trainIntents", 502, style="applied")
    backend = shop_en(intents_dir, emu, import_mode=None)
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    [training] = tasks_of(emu, "trainIntents")
    assert sends(emu, "/intents/train") == 2
    assert list_reads(emu) == 2
    assert job.training_id == training.id


def test_an_applied_502_is_never_followed_by_a_blind_resend(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 502, style="applied")
    emu.app.fail_next("trainIntents", 502, style="applied")
    backend = shop_en(intents_dir, emu, import_mode=None)
    backend.start_training(backend.targets()[0], REQUEST, "k")
    assert sends(emu, "/intents/train") == 1
    assert len(tasks_of(emu, "trainIntents")) == 1
    assert len(emu.app.faults) == 1  # the second fault is still waiting for a send


def test_two_lost_answers_with_nothing_listed_fail_naming_where_to_look(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 502)
    emu.app.fail_next("trainIntents", 503)
    emu.app.fail_next("trainIntents", 502)  # a third send would meet this one
    backend = shop_en(intents_dir, emu, import_mode=None)
    with pytest.raises(ApiError) as caught:
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert sends(emu, "/intents/train") == 2  # never a third
    assert tasks_of(emu, "trainIntents") == []
    error = caught.value
    assert error.status == 503  # the last answer, for the support ticket
    assert "failed twice without an answer (HTTP 502, then HTTP 503)" in str(error)
    assert f"the trainIntents Tasks of project {PROJECT} for flowId {SHOP_FLOW}" in str(error)
    assert error.extra["may_have_applied"] is True


def test_a_task_list_that_cannot_be_read_fails_without_a_second_send(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 502, style="applied")
    for _ in range(FAST.max_attempts):
        emu.app.fail_next("indexTasks", 500)
    backend = shop_en(intents_dir, emu, import_mode=None)
    with pytest.raises(ApiError) as caught:
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert sends(emu, "/intents/train") == 1
    assert caught.value.status == 502
    assert "could not be looked up" in str(caught.value)
    assert "may or may not have applied it" in str(caught.value)
    assert f"check the trainIntents Tasks of project {PROJECT}" in str(caught.value)


def test_a_429_is_sent_again_without_a_look_at_the_task_list(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 429, retry_after="0")
    backend = shop_en(intents_dir, emu, import_mode=None)
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    assert [r.status for r in emu.app.calls("/intents/train")] == [429, 202]
    assert list_reads(emu) == 0
    [training] = tasks_of(emu, "trainIntents")
    assert job.training_id == training.id


def test_a_400_is_neither_sent_again_nor_looked_up(emu: V2Emulator, intents_dir: Path) -> None:
    emu.app.fail_next("trainIntents", 400)
    backend = shop_en(intents_dir, emu, import_mode=None)
    with pytest.raises(ApiError) as caught:
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert caught.value.status == 400
    assert "may_have_applied" not in caught.value.extra
    assert sends(emu, "/intents/train") == 1
    assert list_reads(emu) == 0
    assert tasks_of(emu, "trainIntents") == []


def test_an_older_or_other_locales_training_is_not_taken_for_ours(
    emu: V2Emulator, intents_dir: Path
) -> None:
    # Trainings someone else started: one of this flow and locale long ago, one of
    # this flow in the other locale just now.
    old = emu.service.start_training(SHOP_FLOW, EN, "full")
    old.created_at -= 10 * CLOCK_SKEW_SECONDS
    other_locale = emu.service.start_training(SHOP_FLOW, DE, "full")
    emu.app.fail_next("trainIntents", 502)  # not applied
    backend = shop_en(intents_dir, emu, import_mode=None)
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    assert sends(emu, "/intents/train") == 2
    ours = {t.id for t in tasks_of(emu, "trainIntents")} - {old.id, other_locale.id}
    assert [job.training_id] == list(ours)


def test_each_target_adopts_its_own_training_when_several_run(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 502, style="applied")  # the first target's
    backend = make_backend(emu, intents_dir, import_mode=None, max_parallel=3)
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    assert sends(emu, "/intents/train") == 3
    trainings = tasks_of(emu, "trainIntents")
    assert sorted((t.parameters["flowId"], t.parameters["localeId"]) for t in trainings) == sorted(
        (t.flow_id, t.locale_id) for t in backend.options.targets
    )
    final = run_to_end(backend, job)
    assert final.state is JobState.COMPLETED, final
    # "Shop/locale-1: train task <id>; ...": each target's own Task, the adopted one too
    assert final.message is not None
    assert all(f"train task {t.id}" in final.message for t in trainings)


# ---------------------------------------------------------------------- import


def test_a_502_after_the_import_was_applied_adopts_its_task_and_imports_once(
    emu: V2Emulator, intents_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flow = emu.service.projects[PROJECT].content.flows[SHOP_FLOW]
    for intent in flow.intents.values():
        intent.sentences.clear()  # the tenant starts empty: only the import fills it
    emu.app.fail_next("importIntents", 502, style="applied")
    backend = shop_en(intents_dir, emu, import_mode="merge")
    backend.check_access()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        job = backend.start_training(backend.targets()[0], REQUEST, "k")
    [imported] = tasks_of(emu, "importIntents")
    assert sends(emu, "/intents/import") == 1
    assert backend.import_tasks == {f"{SHOP_FLOW}/{EN}": imported.id}
    assert imported.status == "done"
    locale_ref = emu.service.projects[PROJECT].content.locales[EN].reference_id
    assert {n: i.sentences.get(locale_ref) for n, i in flow.intents.items()} == SHOP_INTENTS
    [training] = tasks_of(emu, "trainIntents")  # training went on after the import
    assert job.training_id == training.id
    assert run_to_end(backend, job).state is JobState.COMPLETED
    assert any("importIntents: the answer was lost" in line for line in notices(caplog))


def test_a_502_on_an_import_that_was_not_applied_sends_it_once_more(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("importIntents", 502)
    backend = shop_en(intents_dir, emu)
    backend.start_training(backend.targets()[0], REQUEST, "k")
    assert [r.status for r in emu.app.calls("/intents/import")] == [502, 202]
    [imported] = tasks_of(emu, "importIntents")
    assert backend.import_tasks[f"{SHOP_FLOW}/{EN}"] == imported.id


# ---------------------------------------------------------------------- the choice itself


def _listed(task_id: str, created_at: float | None, **data: str) -> Task:
    return Task(id=task_id, status="queued", kind="trainIntents", data=data, created_at=created_at)


def test_a_task_without_flow_or_locale_is_matched_by_kind_time_and_not_being_known() -> None:
    # The API documents no keys of a Task's data: a tenant may echo none of them.
    sent = 1_000_000.0
    query = TaskQuery(PROJECT, "trainIntents", {"flowId": SHOP_FLOW}, frozenset({"a" * 24}))
    tasks = [
        _listed("a" * 24, sent + 1),  # this run's own, e.g. another locale's training
        _listed("b" * 24, sent - 2 * CLOCK_SKEW_SECONDS),  # before the send
        _listed("c" * 24, None),  # no creation time: cannot be shown to be ours
        _listed("d" * 24, sent + 0.4),
        _listed("e" * 24, sent + 30),  # further from the send than d
        _listed("f" * 24, sent, flowId="9" * 24),  # another flow's
    ]
    found = created_task(tasks, query, sent, sent + 40)
    assert found is not None and found.id == "d" * 24
    assert created_task(tasks[:3], query, sent, sent + 40) is None


def test_a_tenant_clock_behind_the_runner_still_finds_the_task() -> None:
    sent = 1_000_000.0
    query = TaskQuery(PROJECT, "trainIntents", {})
    behind = _listed("a" * 24, sent - CLOCK_SKEW_SECONDS / 2)
    assert created_task([behind], query, sent, sent + 1) == behind


# ---------------------------------------------------------------------- whole runs


@pytest.mark.parametrize("operation", ["trainIntents", "importIntents"])
def test_a_run_with_an_applied_502_is_approved_with_one_task_per_target(
    project: Path, sample_emu: V2Emulator, operation: str
) -> None:
    sample_emu.app.fail_next(operation, 502, style="applied")
    result = run_sample(project, sample_emu)
    assert result.decision is Decision.APPROVED, (result.reason, result.error)
    section = yaml.safe_load(project.read_text(encoding="utf-8"))["cognigy_v2"]
    targets = sorted(
        (target["flow_id"], locale) for target in section["targets"] for locale in target["locales"]
    )
    for kind in ("importIntents", "trainIntents"):
        made = [
            (t.parameters["flowId"], t.parameters["localeId"]) for t in tasks_of(sample_emu, kind)
        ]
        assert sorted(made) == targets, kind  # one per flow x locale, none twice

"""The v2 emulator's behaviour: intents import, per-locale training with the v1 emulator's
real classifier, Intent Analyzer reports computed from it, `nlu/scores`, snapshots as
stored copies of trained state, and Tasks that run in worker threads.

Errors a request causes are raised as `V2Problem` (status, Cognigy code, detail); the
app turns them into RFC 7807 bodies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ci_trainer.backends.cognigy_v2.emulator.analyzer import all_scores, feedback
from ci_trainer.backends.cognigy_v2.emulator.intents import (
    IMPORT_MODES,
    apply_import,
    intent_tags,
    sentences_by_intent,
    training_data,
)
from ci_trainer.backends.cognigy_v2.emulator.model import (
    Content,
    Flow,
    Locale,
    Project,
    TaskRecord,
    new_id,
)
from ci_trainer.backends.cognigy_v2.emulator.problems import TaskFailed, V2Problem
from ci_trainer.backends.cognigy_v2.emulator.snapshots import SnapshotsAndEndpoints
from ci_trainer.datasets import Dataset, parse_dataset
from ci_trainer.emulator.training import (
    TrainingCancelled,
    TrainingRejected,
    TrainingSpec,
    train,
)
from ci_trainer.errors import DatasetError

TRAIN_SEED = 1234


@dataclass
class TaskFault:
    task_type: str
    fail_reason: str


@dataclass
class V2Service(SnapshotsAndEndpoints):
    """All state of one v2 emulator; every public method is thread-safe. Snapshots and
    endpoints behave as `snapshots.py` says."""

    task_seconds: float = 0.0
    epochs: int = 20
    workers: int = 2
    projects: dict[str, Project] = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    task_faults: list[TaskFault] = field(default_factory=list)
    # download token -> (snapshot name, content): what a .csnap file stands for
    packages: dict[str, tuple[str, Content]] = field(default_factory=dict)
    delete_at_once: bool = False  # a snapshot delete is done before its answer
    upload_list_lag: int = 2  # list reads an uploaded snapshot is missing from once done
    endpoint_quirks: list[str] = field(default_factory=list)  # quirk_next_endpoint_update

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="v2-task")
        self._futures: list[Future[None]] = []
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()
        with self.lock:
            for task in self.tasks.values():
                task.cancel_requested = True
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ seeding

    def add_project(
        self, name: str, locales: Sequence[tuple[str, str]], project_id: str | None = None
    ) -> Project:
        """A project with (locale _id, locale name) pairs; the first is primary."""
        content = Content(
            locales={
                lid: Locale(id=lid, name=lname, primary=i == 0)
                for i, (lid, lname) in enumerate(locales)
            },
            flows={},
        )
        project = Project(id=project_id or new_id(), name=name, content=content)
        with self.lock:
            self.projects[project.id] = project
        return project

    def add_flow(self, project_id: str, name: str, flow_id: str | None = None) -> Flow:
        flow = Flow(id=flow_id or new_id(), name=name)
        with self.lock:
            self.projects[project_id].content.flows[flow.id] = flow
        return flow

    def set_intents(self, flow_id: str, locale_id: str, dataset: Dataset) -> None:
        """Replace the flow's sentences in the locale with a dataset's (the tenant's data)."""
        with self.lock:
            _, flow, locale = self.flow_locale(flow_id, locale_id)
            apply_import(flow, locale.reference_id, sentences_by_intent(dataset), "overwrite")

    # ------------------------------------------------------------------ lookups

    def project(self, project_id: str) -> Project:
        project = self.projects.get(project_id)
        if project is None:
            raise V2Problem(404, f"project {project_id} not found", 1002)
        return project

    def flow(self, flow_id: str) -> tuple[Project, Flow]:
        for project in self.projects.values():
            flow = project.content.flows.get(flow_id)
            if flow is not None:
                return project, flow
        raise V2Problem(404, f"flow {flow_id} not found", 1002)

    def flow_locale(self, flow_id: str, locale_id: str | None) -> tuple[Project, Flow, Locale]:
        project, flow = self.flow(flow_id)
        locales = project.content.locales
        if locale_id is None:
            locale = next((loc for loc in locales.values() if loc.primary), None)
        else:
            locale = locales.get(locale_id)
        if locale is None:
            raise V2Problem(400, f"locale {locale_id} is not a locale of the flow's project", 1005)
        return project, flow, locale

    def task(self, task_id: str) -> TaskRecord:
        task = self.tasks.get(task_id)
        if task is None:
            raise V2Problem(404, f"task {task_id} not found", 1002)
        return task

    # ------------------------------------------------------------------ tasks

    def fail_next_task(self, task_type: str, fail_reason: str) -> None:
        """The next task of this type ends `error` with this failReason (tests)."""
        with self.lock:
            self.task_faults.append(TaskFault(task_type, fail_reason))

    def start_task(
        self,
        task_type: str,
        project_id: str,
        parameters: dict[str, Any],
        work: Callable[[TaskRecord], None],
    ) -> TaskRecord:
        task = TaskRecord(id=new_id(), type=task_type, project_id=project_id, parameters=parameters)
        self.record_task(task)
        self._futures.append(self._pool.submit(self._run, task, work))
        return task

    def record_task(self, task: TaskRecord) -> None:
        with self.lock:
            self.tasks[task.id] = task

    def cancel_task(self, task_id: str) -> None:
        with self.lock:
            task = self.task(task_id)
            if task.status in ("queued", "active"):
                task.cancel_requested = True
                task.set("cancelling")

    def wait_task(self, task_id: str, timeout: float = 30.0) -> TaskRecord:
        """Block until the task is final (tests)."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.task(task_id)
            if task.status in ("done", "cancelled", "error") or time.monotonic() > deadline:
                return task
            time.sleep(0.01)

    def _run(self, task: TaskRecord, work: Callable[[TaskRecord], None]) -> None:
        deadline = time.monotonic() + self.task_seconds
        while time.monotonic() < deadline and not task.cancel_requested:
            self._closed.wait(min(0.02, max(0.0, deadline - time.monotonic())))
        with self.lock:
            if task.cancel_requested:
                task.set("cancelled", last_finished_at=time.time())
                return
            task.set("active", last_run_at=time.time(), current_step=10)
            fault = next((f for f in self.task_faults if f.task_type == task.type), None)
            if fault is not None:
                self.task_faults.remove(fault)
        try:
            if fault is not None:
                raise TaskFailed(fault.fail_reason)
            work(task)
        except TaskFailed as exc:
            with self.lock:
                task.set("error", fail_reason=str(exc), last_finished_at=time.time())
            return
        except V2Problem as exc:
            with self.lock:
                task.set("error", fail_reason=exc.detail, last_finished_at=time.time())
            return
        with self.lock:
            final = "cancelled" if task.cancel_requested else "done"
            task.set(final, current_step=task.total_step, last_finished_at=time.time())

    # ------------------------------------------------------------------ intents

    def start_import(
        self, flow_id: str, locale_id: str, filename: str, raw: bytes, mode: str
    ) -> TaskRecord:
        if mode not in IMPORT_MODES:
            raise V2Problem(400, f"mode must be one of {', '.join(sorted(IMPORT_MODES))}")
        with self.lock:
            project, flow, locale = self.flow_locale(flow_id, locale_id)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise V2Problem(400, "the file is not UTF-8", 1006) from None

        def work(task: TaskRecord) -> None:
            try:
                dataset = parse_dataset(text, filename or "upload.txt")
            except DatasetError as exc:
                msg = f"import error: {exc}"
                raise TaskFailed(msg) from None
            by_intent = sentences_by_intent(dataset)
            tags = intent_tags(text, filename or "upload.txt")
            with self.lock:
                apply_import(flow, locale.reference_id, by_intent, mode, tags)

        params = {"flowId": flow.id, "localeId": locale.id, "mode": mode}
        return self.start_task("importIntents", project.id, params, work)

    def start_training(self, flow_id: str, locale_id: str | None, mode: str) -> TaskRecord:
        if mode not in ("full", "quick"):
            raise V2Problem(400, "mode must be 'full' or 'quick'")
        with self.lock:
            project, flow, locale = self.flow_locale(flow_id, locale_id)

        def work(task: TaskRecord) -> None:
            with self.lock:
                texts, labels = training_data(flow, locale.reference_id)
            spec = TrainingSpec(
                texts=texts, labels=labels, epochs=self.epochs, patience=3, seed=TRAIN_SEED
            )

            def on_epoch(done: int, total: int, _usage: object) -> None:
                task.current_step = 10 + int(85 * done / max(total, 1))

            try:
                outcome = train(spec, on_epoch=on_epoch, cancelled=lambda: task.cancel_requested)
            except TrainingRejected as exc:
                raise TaskFailed(str(exc)) from None
            except TrainingCancelled:
                return
            except Exception as exc:
                # A task must end: anything scikit-learn raises becomes its failReason.
                msg = f"training failed: {type(exc).__name__}"
                raise TaskFailed(msg) from None
            flow_report, intent_reports = feedback(flow, spec, outcome.model, outcome.metrics)
            with self.lock:
                group = flow.group(locale.reference_id)
                group.model = outcome.model
                group.flow_report = flow_report
                group.intent_reports = intent_reports
                group.last_trained_at = time.time()
                group.out_of_date = False

        params = {"flowId": flow.id, "localeId": locale.id, "mode": mode}
        return self.start_task("trainIntents", project.id, params, work)

    def scores(
        self, project_id: str, sentence: str, flow_ref: str, locale_ref: str
    ) -> list[dict[str, Any]]:
        with self.lock:
            project = self.project(project_id)
            flow = next(
                (f for f in project.content.flows.values() if f.reference_id == flow_ref), None
            )
            if flow is None:
                raise V2Problem(404, f"no flow with referenceId {flow_ref} in the project", 1002)
            group = flow.groups.get(locale_ref)
            model = group.model if group else None
            intents = {intent.name: intent for intent in flow.intents.values()}
        if model is None:
            raise V2Problem(400, "the flow is not trained in this locale; train it first", 1010)
        return [
            {
                "id": intents[name].reference_id if name in intents else name,
                "name": name,
                "score": score,
                "negated": False,
                "confirmationSentence": None,
                "confirmationSentences": [],
                "disambiguationSentence": None,
                "flow": flow.reference_id,
                "description": "",
            }
            for name, score in all_scores(model, sentence)
        ]

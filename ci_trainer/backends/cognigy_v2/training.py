"""The training fan-out: import each target's intents, then train every flow x locale
with at most `max_parallel` Tasks live, and sum their states into one job status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ci_trainer.backend_types import JobState, JobStatus, Target, TrainingJob
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.intents_export import IntentsExports, current_notice
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.backends.cognigy_v2.tasks import TaskWaits
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.backends.cognigy_v2.writes import TaskQuery, send_reconciled, task_write
from ci_trainer.errors import ApiError, TrainingFailed

_STATES = {
    "queued": JobState.QUEUED,
    "active": JobState.RUNNING,
    "cancelling": JobState.RUNNING,  # not final: the cancel may still be refused
    "done": JobState.COMPLETED,
    "cancelled": JobState.CANCELLED,
    "error": JobState.FAILED,
}


@dataclass
class TrainingRun:
    """A started training: its Tasks, the targets not yet started, and what ended."""

    targets: list[V2Target]
    pending: list[V2Target]
    live: dict[str, Task] = field(default_factory=dict)  # target id -> latest task
    final: dict[str, Task] = field(default_factory=dict)
    current: list[V2Target] = field(default_factory=list)  # not trained: nothing changed


class TrainingFanOut:
    """Starts, follows and cancels the trainings of a backend's targets."""

    def __init__(
        self,
        client: CognigyV2Client,
        options: V2Options,
        tasks: TaskWaits,
        label: Callable[[V2Target], str],
        exports: IntentsExports,
    ) -> None:
        self._client = client
        self._options = options
        self._tasks = tasks
        self._label = label
        self._exports = exports
        self._runs: dict[str, TrainingRun] = {}
        self.import_tasks: dict[str, str] = {}  # target id -> the import Task's id
        self._started: set[str] = set()  # every Task id this fan-out started or adopted

    def payload(self, members: list[V2Target]) -> dict[str, Any]:
        """The import and train calls `start` makes, one per member in order."""
        calls: list[dict[str, Any]] = []
        for spec in members:
            where = {"flowId": spec.flow_id, "localeId": spec.locale_id}
            if self._options.import_mode is not None and spec.intents_file is not None:
                calls.append(
                    {
                        "operation": "importIntents",
                        **where,
                        "mode": self._options.import_mode,
                        "file": spec.intents_file.name,
                    }
                )
            calls.append({"operation": "trainIntents", **where, "mode": self._options.train_mode})
        return {"calls": calls}

    def start(self, target: Target, members: list[V2Target], idempotency_key: str) -> TrainingJob:
        """Import each member's intents file (when configured), then start the trainings;
        a member whose training is current on the committed file is left alone (C12)."""
        current = [spec for spec in members if self._exports.up_to_date(spec)]
        changed = [spec for spec in members if spec not in current]
        if self._options.import_mode is not None:
            for spec in changed:
                self._import(spec)
        run = TrainingRun(targets=members, pending=changed, current=current)
        self._fill(run)
        first = next(iter(run.live.values()), None)
        if first is None:  # every member is current: nothing to start
            job_id = f"current-{len(self._runs) + 1}"
        else:
            job_id = first.id if len(members) == 1 else f"run-{first.id}"
        self._runs[job_id] = run
        return TrainingJob(
            target=target,
            training_id=job_id,
            idempotency_key=idempotency_key,
            started_at=datetime.now(timezone.utc),
        )

    def _import(self, spec: V2Target) -> None:
        if spec.intents_file is None:
            return
        self._exports.before_import(spec, self._options.import_mode or "overwrite")
        content = spec.intents_file.read_bytes()
        name, mode = spec.intents_file.name, self._options.import_mode or "overwrite"
        task = self._start_task(
            spec,
            "importIntents",
            f"the import of {name} into {self._label(spec)}",
            lambda: self._client.import_intents(spec.flow_id, spec.locale_id, name, content, mode),
        )
        self.import_tasks[spec.id] = task.id
        what = f"importing {name} into {self._label(spec)}"
        final = self._tasks.wait(task, what)
        if final.status != "done":
            raise TrainingFailed(
                f"{what} ended {final.status}"
                + (f": {final.fail_reason}" if final.fail_reason else ""),
                hint="check the intents file's format (Cognigy JSON export or 3-column CSV)",
            )

    def _fill(self, run: TrainingRun) -> None:
        """Start pending trainings while fewer than `max_parallel` are live."""
        while run.pending and len(run.live) < max(1, self._options.max_parallel):
            spec = run.pending.pop(0)
            run.live[spec.id] = self._train(spec)

    def _train(self, spec: V2Target) -> Task:
        return self._start_task(
            spec,
            "trainIntents",
            f"the training of {self._label(spec)}",
            lambda: self._client.train_intents(
                spec.flow_id, spec.locale_id, self._options.train_mode
            ),
        )

    def _start_task(self, spec: V2Target, kind: str, what: str, send: Callable[[], Task]) -> Task:
        """`send` a write that creates a Task. If its answer is lost, adopt the Task it
        created instead of starting a second one (C1, `writes.py`)."""
        echoes = {"flowId": spec.flow_id, "localeId": spec.locale_id}
        query = TaskQuery(self._options.project_id, kind, echoes, frozenset(self._started))
        write = task_write(self._client, query, what, send)
        task = send_reconciled(write, redactor=self._client.redactor)
        self._started.add(task.id)
        return task

    def status(self, job: TrainingJob) -> JobStatus:
        """Read every live Task once; start more when some ended; sum up."""
        run = self.run(job)
        for target_id, task in list(run.live.items()):
            latest = self._client.read_task(task.id)
            if latest.terminal:
                run.final[target_id] = latest
                del run.live[target_id]
            else:
                run.live[target_id] = latest
        failed = {tid: t for tid, t in run.final.items() if t.status != "done"}
        if failed:
            self._cancel_live(run)
            return self._failed_status(run, failed)
        if not run.live and not run.pending:
            return JobStatus(
                state=JobState.COMPLETED,
                raw_status="done",
                progress=1.0,
                message=self._task_summary(run),
                notices=[current_notice(self._label(spec)) for spec in run.current],
            )
        self._fill(run)
        return self._running_status(run)

    def _task_summary(self, run: TrainingRun) -> str:
        """Which Task trained (and imported) each target: the audit record keeps it."""
        parts = []
        for spec in run.targets:
            if spec in run.current:
                parts.append(f"{self._label(spec)}: not trained (current)")
                continue
            task = run.final.get(spec.id)
            text = f"{self._label(spec)}: train task {task.id if task else '?'}"
            if spec.id in self.import_tasks:
                text += f", import task {self.import_tasks[spec.id]}"
            export = self._exports.made(spec)
            if export is not None and export.path is not None:
                text += f", export {export.path.name}"
            parts.append(text)
        return "; ".join(parts)

    def _failed_status(self, run: TrainingRun, failed: dict[str, Task]) -> JobStatus:
        states = {t.status for t in failed.values()}
        state = JobState.FAILED if "error" in states else JobState.CANCELLED
        names = {spec.id: self._label(spec) for spec in run.targets}
        message = "; ".join(
            f"{names.get(tid, tid)}: {task.status}"
            + (f" ({task.fail_reason})" if task.fail_reason else "")
            for tid, task in sorted(failed.items())
        )
        return JobStatus(
            state=state,
            raw_status="error" if state is JobState.FAILED else "cancelled",
            message=message,
        )

    def _running_status(self, run: TrainingRun) -> JobStatus:
        total = len(run.targets)
        progress = sum(1.0 for _ in run.final)
        progress += sum(task.progress or 0.0 for task in run.live.values())
        raw = "active" if any(t.status == "active" for t in run.live.values()) else "queued"
        if any(t.status == "cancelling" for t in run.live.values()):
            raw = "cancelling"
        return JobStatus(
            state=_STATES[raw],
            raw_status=raw,
            progress=progress / total if total else None,
            message=f"{len(run.final)} of {total} targets done" if total > 1 else None,
        )

    def cancel(self, job: TrainingJob) -> None:
        self._cancel_live(self.run(job))

    def _cancel_live(self, run: TrainingRun) -> None:
        run.pending.clear()
        for task in run.live.values():
            try:
                self._client.cancel_task(task.id)
            except ApiError:
                continue  # best effort; the pipeline reports why the run ended

    def run(self, job: TrainingJob) -> TrainingRun:
        """The run behind a job this backend started; ValueError for any other job."""
        run = self._runs.get(job.training_id)
        if run is None:
            msg = f"training {job.training_id} was not started by this backend"
            raise ValueError(msg)
        return run

"""The snapshot steps of a promotion, each verified rather than assumed:

- room at the 10-snapshot limit is made by deleting the oldest ci-trainer snapshot that
  no endpoint of the project serves, and the delete Task is waited for (C4) before
  anything is created or uploaded;
- a create or upload whose answer was lost (a 5xx or a broken connection after the
  request went out) is reconciled, never re-sent blindly (C1): the Task or snapshot the
  first call may have made is looked for and adopted, and only when there is none is
  the call sent once more;
- a snapshot is found by its name (unique per run) in the list, which is read a bounded
  number of times: an upload shows there a little after its Task is done (C7).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NoReturn

from ci_trainer.backend_types import PromotionStep
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.options import V2Options
from ci_trainer.backends.cognigy_v2.tasks import TaskWaits
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.backends.cognigy_v2.writes import may_have_applied
from ci_trainer.errors import ApiError, ContractError, TrainingFailed

SNAPSHOT_LIMIT = 10
FIND_READS = 15  # list reads, at the Task pace, before a done snapshot counts as missing
_ADOPTED = "ci-trainer adopted snapshot"  # marks a stand-in for a Task no longer listed


def record_task(steps: list[PromotionStep], name: str, task: Task, subject: str) -> None:
    """A step for a final Task; one that did not end `done` fails the promotion."""
    status = "done" if task.status == "done" else "failed"
    detail = f"task {task.id} {task.status}" + (f": {task.fail_reason}" if task.fail_reason else "")
    if task.data.get(_ADOPTED) == task.id:
        detail = f"snapshot {task.id} adopted: the answer was lost and its task is not listed"
    steps.append(PromotionStep(name=name, status=status, id=subject, detail=detail))
    if status != "done":
        raise TrainingFailed(
            f"{name} ended {task.status}" + (f": {task.fail_reason}" if task.fail_reason else "")
        )


class SnapshotSteps:
    """Create, upload, find and evict snapshots for one promotion."""

    def __init__(self, client: CognigyV2Client, options: V2Options, tasks: TaskWaits) -> None:
        self._client = client
        self._options = options
        self._tasks = tasks

    # ------------------------------------------------------------------ reading

    def ci_snapshots(self, project_id: str) -> list[dict[str, Any]]:
        """The project's ci-trainer snapshots (by name prefix), oldest first."""
        prefix = self._options.snapshot_prefix
        ours = [
            s
            for s in self._client.list_snapshots(project_id)
            if str(s.get("name", "")).startswith(prefix)
        ]
        return sorted(ours, key=lambda s: sort_key(s.get("createdAt")))

    def _named(self, project_id: str, name: str) -> str | None:
        matches = [s for s in self._client.list_snapshots(project_id) if s.get("name") == name]
        if not matches:
            return None
        # Reconciling keeps one per name; were there two, the newest is this run's.
        return str(sorted(matches, key=lambda s: sort_key(s.get("createdAt")))[-1]["_id"])

    def find(self, project_id: str, name: str) -> str:
        """The id of the snapshot named `name`, read until it shows (bounded)."""
        found = self._tasks.until_found(
            lambda: self._named(project_id, name), f"looking for snapshot {name}", FIND_READS
        )
        if found is None:
            raise ContractError(
                call="indexSnapshots",
                message_text=f"no snapshot named {name} in project {project_id} after "
                f"{FIND_READS} reads of the list, though its task was done",
                hint_text="check the project's snapshots in Cognigy; quote the task id to support",
            )
        return found

    def served_entrypoints(self, project_id: str) -> dict[str, str]:
        """Entrypoint -> an endpoint serving it, for every endpoint of the project, each
        read by id (the list does not say, C5). A read that fails fails the promotion:
        what cannot be checked is not deleted."""
        served: dict[str, str] = {}
        for listed in self._client.list_endpoints(project_id):
            endpoint_id = str(listed.get("_id", ""))
            try:
                entrypoint = self._client.read_endpoint(endpoint_id).get("entrypoint")
            except ApiError as exc:
                msg = (
                    f"could not read endpoint {endpoint_id} of project {project_id} ({exc}), "
                    "so no snapshot is deleted"
                )
                raise TrainingFailed(
                    msg, hint="re-run the promotion, or delete a snapshot in Cognigy"
                ) from exc
            if isinstance(entrypoint, str) and entrypoint:
                served.setdefault(entrypoint, endpoint_id)
        return served

    # ------------------------------------------------------------------ room

    def make_room(self, project_id: str, steps: list[PromotionStep]) -> None:
        """At the limit: delete the oldest unserved ci-trainer snapshot, if allowed, and
        wait until its delete Task is done (only then is there room)."""
        count = len(self._client.list_snapshots(project_id))
        if count < SNAPSHOT_LIMIT:
            return
        if not self._options.delete_oldest_snapshot:
            self._full(
                project_id,
                steps,
                f"{count} snapshots",
                "delete one in Cognigy, or set cognigy_v2.promotion.delete_oldest_snapshot: "
                "true to let ci-trainer delete its own oldest snapshot",
            )
        served = self.served_entrypoints(project_id)
        ours = self.ci_snapshots(project_id)
        candidates = [s for s in ours if str(s.get("_id")) not in served]
        kept = [
            f"{str(s.get('name'))[:60]} (endpoint {served[str(s['_id'])]})"
            for s in ours
            if str(s.get("_id")) in served
        ]
        if not candidates:
            why = "no ci-trainer snapshot" if not ours else "every ci-trainer snapshot is served"
            self._full(
                project_id,
                steps,
                f"{count} snapshots, {why}" + (f": {', '.join(kept)}" if kept else ""),
                "delete a snapshot no endpoint serves in Cognigy; ci-trainer never deletes "
                "one an endpoint serves, nor one it did not make",
            )
        oldest = candidates[0]
        snapshot_id = str(oldest["_id"])
        task = self._tasks.wait(
            self._client.delete_snapshot(snapshot_id), f"deleting snapshot {snapshot_id}"
        )
        step = "delete oldest ci-trainer snapshot"
        record_task(steps, step, task, snapshot_id)
        # The name first: that is what a reader of the summary recognises.
        detail = f"{str(oldest.get('name'))[:60]} ({steps[-1].detail})"
        if kept:
            detail += "; kept, as endpoints serve them: " + ", ".join(kept)
        steps[-1] = PromotionStep(name=step, status="done", id=snapshot_id, detail=detail)

    def _full(
        self, project_id: str, steps: list[PromotionStep], detail: str, hint: str
    ) -> NoReturn:
        steps.append(
            PromotionStep(name="snapshot limit", status="failed", id=project_id, detail=detail)
        )
        msg = f"project {project_id} is at the limit of {SNAPSHOT_LIMIT} snapshots ({detail})"
        raise TrainingFailed(msg, hint=hint)

    # ------------------------------------------------------------------ writes

    def create(self, project_id: str, name: str, description: str) -> Task:
        """`POST /snapshots`; after a lost answer, the Task it made is adopted."""
        return self._write_once(
            project_id,
            "createSnapshot",
            name,
            lambda: self._client.create_snapshot(project_id, name, description),
        )

    def upload(self, project_id: str, name: str, package: bytes) -> Task:
        """`POST /snapshots/upload`; after a lost answer, the Task it made is adopted."""
        return self._write_once(
            project_id,
            "uploadSnapshotPackage",
            name,
            lambda: self._client.upload_snapshot(project_id, f"{name}.csnap", package),
        )

    def _write_once(self, project_id: str, kind: str, name: str, send: Callable[[], Task]) -> Task:
        """`send()`, reconciled (C1): if its answer is lost, the Task of `kind` it made
        (one that was not there before) or the snapshot `name` is adopted; the call goes
        once more only when neither exists, i.e. the service did not take it."""
        before = self._task_ids(project_id, kind)
        try:
            return send()
        except ApiError as exc:
            if not may_have_applied(exc):
                raise
            adopted = self._made(project_id, kind, name, before)
            if adopted is not None:
                return adopted
        return send()

    def _task_ids(self, project_id: str, kind: str) -> set[str]:
        return {t.id for t in self._client.list_tasks(project_id) if t.kind == kind}

    def _made(self, project_id: str, kind: str, name: str, before: set[str]) -> Task | None:
        """The Task a lost write made, or (its Task gone) a stand-in for the done one."""
        new = [
            t
            for t in self._client.list_tasks(project_id)
            if t.kind == kind and t.id not in before and t.data.get("name", name) == name
        ]
        if new:
            return max(new, key=lambda t: t.created_at or 0.0)
        existing = self._named(project_id, name)
        if existing is not None:
            return Task(id=existing, status="done", kind=kind, data={_ADOPTED: existing})
        return None


def sort_key(value: object) -> float:
    """A createdAt (epoch seconds or ISO 8601) as seconds; 0 for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def timestamp(value: object) -> datetime | None:
    key = sort_key(value)
    return datetime.fromtimestamp(key, timezone.utc) if key else None

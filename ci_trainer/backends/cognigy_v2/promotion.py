"""Promotion as a snapshot, planned before anything is written, then done in steps, each
landing in `Promotion.steps` and each verified rather than assumed (issues 13 and 18).

The plan reads only: the configured endpoint (by id: what it serves, its flow), the
target project (it must be readable), and the room in both projects (at the
10-snapshot limit: which unserved ci-trainer snapshot would go; a served one never
does). Any failure there leaves the tenant untouched. Then, in this order:

(delete in the source) -> create (Task) -> find it by name -> [check the endpoint's
flow in that snapshot's resources] -> package (Task) -> [download -> (delete in the
target) -> upload (Task) -> find it by name (it shows late)] -> restore and re-point.

Production is what the endpoint serves, so the last two are ordered to keep it as it
was until the end: when the endpoint serves a snapshot, the restore (into a working copy
production does not serve) runs first and the re-point last; when it serves the target
project itself, the re-point to the uploaded snapshot runs first (production switches to
a complete snapshot at once) and the restore after. A re-point whose read-back shows
something else is undone (`endpoint.py`). Steps a failure kept from running are listed
as `not run`. `promoted` is True only when every step was confirmed; a failed
promotion's last step says what the endpoint serves now, as read back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci_trainer.backend_types import ModelVersion, Promotion, PromotionStep
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.endpoint import EndpointSteps
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.backends.cognigy_v2.production import ProductionReader
from ci_trainer.backends.cognigy_v2.snapshots import Room, SnapshotSteps, record_task
from ci_trainer.backends.cognigy_v2.tasks import TaskWaits
from ci_trainer.backends.cognigy_v2.writes import TaskQuery, send_reconciled, task_write
from ci_trainer.errors import CiTrainerError, Interrupted, TrainingFailed

NOT_RUN = "planned, not run: an earlier step failed"

_Step = tuple[tuple[str, ...], Callable[[], None]]  # the step names it records, and its work


@dataclass
class _Run:
    """One promotion's plan and what its steps found."""

    endpoint: dict[str, Any] | None
    flow_ref: str | None
    source: Room
    target: Room | None
    log: list[PromotionStep]
    snapshot_id: str = ""
    package: bytes = b""
    promoted_id: str = ""
    steps: list[_Step] = field(default_factory=list)


class SnapshotPromotion:
    """Promotes a backend's project once per run and reads what production holds."""

    def __init__(
        self,
        client: CognigyV2Client,
        options: V2Options,
        tasks: TaskWaits,
        references: Callable[[V2Target], tuple[str, str]],
    ) -> None:
        """`references(target)`: the (flow, locale) referenceIds of a target."""
        self._client = client
        self._options = options
        self._tasks = tasks
        self._references = references
        self._snapshots = SnapshotSteps(client, options, tasks)
        self._endpoint = EndpointSteps(client, options, references)
        self.production = ProductionReader(client, options, self._snapshots)
        self.snapshot_ids: dict[str, str] = {}  # project id -> snapshot id
        self._promotion: Promotion | None = None

    def production_version(self) -> ModelVersion | None:
        """What the configured endpoint serves (else inferred), and what it is scored on."""
        return self.production.version()

    def promote(self, version_id: str, environment: str) -> Promotion:
        """Snapshot the project (once per run, whatever the target) and carry it over."""
        if self._promotion is not None:
            return self._promotion
        steps: list[PromotionStep] = []
        try:
            promoted = self._promote(steps, environment)
        except CiTrainerError as exc:
            steps.append(PromotionStep(name="error", status="failed", detail=str(exc)))
            if _endpoint_checked(steps) and not isinstance(exc, Interrupted):
                steps.append(self._endpoint.production_state())
            self._promotion = Promotion(
                version_id=version_id, environment=environment, promoted=False, steps=steps
            )
            if isinstance(exc, Interrupted):
                raise
            return self._promotion
        self._promotion = promoted
        return promoted

    def _promote(self, steps: list[PromotionStep], environment: str) -> Promotion:
        run = self._plan(steps)
        self._schedule(run, environment)
        for at, (names, step) in enumerate(run.steps):
            before = len(steps)
            try:
                step()
            except CiTrainerError as exc:
                _unfinished(steps[before:], names, exc, steps)
                later = [n for names_after, _ in run.steps[at + 1 :] for n in names_after]
                steps.extend(PromotionStep(name=n, status="not run", detail=NOT_RUN) for n in later)
                raise
        return Promotion(
            version_id=run.promoted_id, environment=environment, promoted=True, steps=steps
        )

    # ------------------------------------------------------------------ the plan

    def _plan(self, steps: list[PromotionStep]) -> _Run:
        """Every precondition, read before the first write (a failure here changes nothing)."""
        endpoint = self._endpoint.check(steps) if self._options.endpoint_id else None
        target = self._options.target_project_id
        if target is not None:
            self._client.read_project(target)
            steps.append(PromotionStep(name="check target project", status="done", id=target))
        source_room = self._snapshots.room(self._options.project_id)
        target_room = self._snapshots.room(target) if target is not None else None
        for room in (source_room, target_room):
            if room is not None and room.refusal is not None:
                self._snapshots.refuse(room, steps)
        flow_ref = self._endpoint.served_references(endpoint)[0] if endpoint else None
        known = {self._references(t)[0] for t in self._options.targets}
        if flow_ref is not None and flow_ref not in known and source_room.victim is not None:
            detail = (
                f"the endpoint's flow {flow_ref[:60]} is not a configured target's, so it can "
                "only be checked in the new snapshot, and room for that snapshot is made by "
                "deleting one first; nothing was deleted"
            )
            steps.append(PromotionStep(name="plan", status="failed", detail=detail))
            raise TrainingFailed(
                detail,
                hint=f"delete a snapshot of project {self._options.project_id} in Cognigy, or "
                "configure a target of the endpoint's flow",
            )
        steps.append(
            PromotionStep(
                name="plan",
                status="done",
                detail="; ".join(_room_said(r) for r in (source_room, target_room) if r),
            )
        )
        return _Run(endpoint, flow_ref, source_room, target_room, steps)

    def _schedule(self, run: _Run, environment: str) -> None:
        """The writes, in the order that keeps production as it was until the end."""
        add = run.steps.append
        evict = "delete oldest ci-trainer snapshot"
        if run.source.victim is not None:
            add(((evict,), lambda: self._snapshots.evict(run.source, run.log)))
        add((("create snapshot", "find snapshot"), lambda: self._create(run, environment)))
        if run.endpoint is not None and run.flow_ref is not None:
            flow = run.flow_ref
            add(
                (
                    ("check flow in snapshot",),
                    lambda: self._endpoint.check_flow(run.snapshot_id, flow, run.log),
                )
            )
        add((("package snapshot",), lambda: self._package(run)))
        if run.target is not None:
            target = run.target
            add((("download package",), lambda: self._download(run)))
            if target.victim is not None:
                add(((evict,), lambda: self._snapshots.evict(target, run.log)))
            add((("upload to target project", "find uploaded snapshot"), lambda: self._upload(run)))
        restore: list[_Step] = [(("restore in target project",), lambda: self._restore(run))]
        if run.target is None or not self._options.restore:
            restore = []
        if run.endpoint is None:
            run.steps.extend(restore)
            return
        endpoint = run.endpoint
        verify: _Step = (
            ("verify endpoint",),
            lambda: self._endpoint.verify(endpoint, run.promoted_id, run.log),
        )
        if endpoint.get("entrypoint") == self._options.target_project_id and restore:
            # Production is the working copy the restore overwrites: it is moved to the
            # complete uploaded snapshot first, and read back once more at the end.
            repoint: _Step = (
                ("re-point endpoint",),
                lambda: self._endpoint.repoint(endpoint, run.promoted_id, run.log, verify=False),
            )
            run.steps.extend([repoint, *restore, verify])
            return
        both: _Step = (
            ("re-point endpoint", "verify endpoint"),
            lambda: self._endpoint.repoint(endpoint, run.promoted_id, run.log),
        )
        run.steps.extend([*restore, both])

    # ------------------------------------------------------------------ the steps

    def _create(self, run: _Run, environment: str) -> None:
        source, name = self._options.project_id, self._options.snapshot_name
        task = self._snapshots.create(source, name, f"ci-trainer promotion to {environment}")
        record_task(
            run.log, "create snapshot", self._tasks.wait(task, "creating the snapshot"), name
        )
        run.snapshot_id = run.promoted_id = self._snapshots.find(source, name)
        self.snapshot_ids[source] = run.snapshot_id
        run.log.append(
            PromotionStep(name="find snapshot", status="done", id=run.snapshot_id, detail=name)
        )

    def _package(self, run: _Run) -> None:
        task = self._client.package_snapshot(run.snapshot_id)
        record_task(
            run.log,
            "package snapshot",
            self._tasks.wait(task, "packaging the snapshot"),
            run.snapshot_id,
        )

    def _download(self, run: _Run) -> None:
        run.package = self._client.download_snapshot(run.snapshot_id)
        run.log.append(
            PromotionStep(
                name="download package",
                status="done",
                id=run.snapshot_id,
                detail=f"{len(run.package)} bytes",
            )
        )

    def _upload(self, run: _Run) -> None:
        target, name = str(self._options.target_project_id), self._options.snapshot_name
        task = self._snapshots.upload(target, name, run.package)
        record_task(
            run.log,
            "upload to target project",
            self._tasks.wait(task, "uploading the snapshot"),
            target,
        )
        run.promoted_id = self._snapshots.find(target, name)
        self.snapshot_ids[target] = run.promoted_id
        run.log.append(
            PromotionStep(
                name="find uploaded snapshot",
                status="done",
                id=run.promoted_id,
                detail=f"project {target}",
            )
        )

    def _restore(self, run: _Run) -> None:
        target, uploaded = str(self._options.target_project_id), run.promoted_id
        # A restore that ran twice would only redo itself, but it is a write like the
        # others (C1): a lost answer is looked up among the project's Tasks first.
        query = TaskQuery(target, "restoreSnapshot", {"snapshotId": uploaded})
        write = task_write(
            self._client,
            query,
            f"the restore of snapshot {uploaded} into project {target}",
            lambda: self._client.restore_snapshot(uploaded, target),
        )
        try:
            task = send_reconciled(write, redactor=self._client.redactor)
            record_task(
                run.log,
                "restore in target project",
                self._tasks.wait(task, "restoring the snapshot"),
                uploaded,
            )
        except CiTrainerError:
            if _endpoint_repointed(run.log):
                # Not undone: the working copy it served may be partly overwritten now.
                run.log.append(
                    PromotionStep(
                        name="undo re-point",
                        status="not run",
                        id=str(self._options.endpoint_id),
                        detail=f"the endpoint keeps serving snapshot {uploaded}: it served "
                        f"project {target}'s working copy, which the failed restore may have "
                        "partly overwritten",
                    )
                )
            raise


def _unfinished(
    made: list[PromotionStep],
    names: tuple[str, ...],
    exc: CiTrainerError,
    steps: list[PromotionStep],
) -> None:
    """The steps of a failed entry that it did not record: the first is the one that
    failed (unless a failed step already says so), the others did not run."""
    missing = [n for n in names if n not in {s.name for s in made}]
    if missing and not any(s.status == "failed" for s in made):
        steps.append(PromotionStep(name=missing.pop(0), status="failed", detail=str(exc)[:300]))
    steps.extend(PromotionStep(name=n, status="not run", detail=NOT_RUN) for n in missing)


def _room_said(room: Room) -> str:
    said = f"project {room.project_id}: {room.count} snapshots"
    if room.victim is not None:
        said += f", {room.victim[1]} ({room.victim[0]}) to be deleted once every check passed"
    if room.kept:
        said += "; kept, as endpoints serve them: " + ", ".join(room.kept)
    return said


def _endpoint_checked(steps: list[PromotionStep]) -> bool:
    """Whether the configured endpoint was found: only then is what it serves news."""
    return any(s.name == "check endpoint" and s.status == "done" for s in steps)


def _endpoint_repointed(steps: list[PromotionStep]) -> bool:
    return any(s.name == "re-point endpoint" and s.status == "done" for s in steps)

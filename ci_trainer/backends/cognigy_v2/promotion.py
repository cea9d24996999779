"""Promotion as a snapshot, in steps, each one landing in `Promotion.steps`, and each one
verified rather than assumed (issue 13 item 6):

[check the endpoint] -> (make room at the 10-snapshot limit) -> create (Task) -> find it
by name -> package (Task) -> [download -> make room in target -> upload (Task) -> find it
by name (it shows late) -> restore (Task)] when a target project is configured ->
[check the flow is in the snapshot -> re-point the endpoint -> read it back]. The
endpoint is checked before anything is created, so a wrong id changes nothing.

`promoted` is True only when every step was confirmed; a failed promotion's last step
says what the endpoint serves now, as read back (or that it could not be read).
The snapshot steps live in `snapshots.py`, the endpoint's in `endpoint.py`.
"""

from __future__ import annotations

from collections.abc import Callable

from ci_trainer.backend_types import ModelVersion, Promotion, PromotionStep
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.endpoint import EndpointSteps
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.backends.cognigy_v2.snapshots import SnapshotSteps, record_task, timestamp
from ci_trainer.backends.cognigy_v2.tasks import TaskWaits
from ci_trainer.backends.cognigy_v2.writes import TaskQuery, send_reconciled, task_write
from ci_trainer.errors import CiTrainerError, FeatureUnavailable, Interrupted


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
        self._snapshots = SnapshotSteps(client, options, tasks)
        self._endpoint = EndpointSteps(client, options, references)
        self.snapshot_ids: dict[str, str] = {}  # project id -> snapshot id
        self._promotion: Promotion | None = None

    def production_version(self) -> ModelVersion | None:
        """The newest ci-trainer snapshot in the promotion target project, if any."""
        project = self._options.target_project_id
        if project is None:
            msg = "no cognigy_v2.promotion.target_project_id"
            raise FeatureUnavailable(msg)
        ours = self._snapshots.ci_snapshots(project)
        if not ours:
            return None
        newest = ours[-1]
        return ModelVersion(
            version_id=f"{project}:{newest['name']}",
            promoted_at=timestamp(newest.get("createdAt")),
        )

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
        # A wrong endpoint id fails before any snapshot exists: nothing half-promoted.
        endpoint = self._endpoint.check(steps) if self._options.endpoint_id else None
        snapshot_id = self._snapshot_and_carry(steps, environment)
        if endpoint is not None:
            self._endpoint.repoint(endpoint, snapshot_id, steps)
        return Promotion(
            version_id=snapshot_id, environment=environment, promoted=True, steps=steps
        )

    def _snapshot_and_carry(self, steps: list[PromotionStep], environment: str) -> str:
        """Snapshot the project, and carry it to the target project when there is one.

        Returns the id of the snapshot that is now promoted (in the endpoint's project).
        """
        source = self._options.project_id
        name = self._options.snapshot_name
        self._snapshots.make_room(source, steps)
        task = self._snapshots.create(source, name, f"ci-trainer promotion to {environment}")
        record_task(steps, "create snapshot", self._tasks.wait(task, "creating the snapshot"), name)
        snapshot_id = self._snapshots.find(source, name)
        self.snapshot_ids[source] = snapshot_id
        steps.append(
            PromotionStep(name="find snapshot", status="done", id=snapshot_id, detail=name)
        )
        task = self._client.package_snapshot(snapshot_id)
        record_task(
            steps, "package snapshot", self._tasks.wait(task, "packaging the snapshot"), snapshot_id
        )
        target_project = self._options.target_project_id
        if target_project is None:
            return snapshot_id
        package = self._client.download_snapshot(snapshot_id)
        steps.append(
            PromotionStep(
                name="download package",
                status="done",
                id=snapshot_id,
                detail=f"{len(package)} bytes",
            )
        )
        self._snapshots.make_room(target_project, steps)
        task = self._snapshots.upload(target_project, name, package)
        record_task(
            steps,
            "upload to target project",
            self._tasks.wait(task, "uploading the snapshot"),
            target_project,
        )
        uploaded = self._snapshots.find(target_project, name)
        self.snapshot_ids[target_project] = uploaded
        steps.append(
            PromotionStep(
                name="find uploaded snapshot",
                status="done",
                id=uploaded,
                detail=f"project {target_project}",
            )
        )
        if self._options.restore:
            # A restore that ran twice would only redo itself, but it is a write like the
            # others (C1): a lost answer is looked up among the project's Tasks first.
            query = TaskQuery(target_project, "restoreSnapshot", {"snapshotId": uploaded})
            write = task_write(
                self._client,
                query,
                f"the restore of snapshot {uploaded} into project {target_project}",
                lambda: self._client.restore_snapshot(uploaded, target_project),
            )
            task = send_reconciled(write, redactor=self._client.redactor)
            record_task(
                steps,
                "restore in target project",
                self._tasks.wait(task, "restoring the snapshot"),
                uploaded,
            )
        return uploaded


def _endpoint_checked(steps: list[PromotionStep]) -> bool:
    """Whether the configured endpoint was found: only then is what it serves news."""
    return any(s.name == "check endpoint" and s.status == "done" for s in steps)

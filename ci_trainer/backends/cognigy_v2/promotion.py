"""Promotion as a snapshot, in steps, each one landing in `Promotion.steps`:

(evict the oldest ci-trainer snapshot when at the 10-snapshot limit and allowed) ->
create (Task) -> find its id by name -> package (Task) -> [download -> evict in target ->
upload (Task) -> find by name -> restore (Task)] when a target project is configured ->
[re-point the configured endpoint at the snapshot (`PATCH /endpoints/{id}`)]. The
endpoint is looked up before anything is created, so a wrong id changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ci_trainer.backend_types import ModelVersion, Promotion, PromotionStep
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.backends.cognigy_v2.tasks import TaskWaits
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.errors import (
    ApiError,
    CiTrainerError,
    ContractError,
    FeatureUnavailable,
    Interrupted,
    TrainingFailed,
)

SNAPSHOT_LIMIT = 10


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
        self.snapshot_ids: dict[str, str] = {}  # project id -> snapshot id
        self._promotion: Promotion | None = None

    def production_version(self) -> ModelVersion | None:
        """The newest ci-trainer snapshot in the promotion target project, if any."""
        project = self._options.target_project_id
        if project is None:
            msg = "no cognigy_v2.promotion.target_project_id"
            raise FeatureUnavailable(msg)
        ours = self._ci_snapshots(project)
        if not ours:
            return None
        newest = ours[-1]
        return ModelVersion(
            version_id=f"{project}:{newest['name']}",
            promoted_at=_timestamp(newest.get("createdAt")),
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
        endpoint = self._check_endpoint(steps) if self._options.endpoint_id else None
        snapshot_id = self._snapshot_and_carry(steps, environment)
        if endpoint is not None:
            self._repoint_endpoint(endpoint, snapshot_id, steps)
        return Promotion(
            version_id=snapshot_id, environment=environment, promoted=True, steps=steps
        )

    def _snapshot_and_carry(self, steps: list[PromotionStep], environment: str) -> str:
        """Snapshot the project, and carry it to the target project when there is one.

        Returns the id of the snapshot that is now promoted (in the endpoint's project).
        """
        source = self._options.project_id
        name = self._options.snapshot_name
        self._make_room(source, steps)
        task = self._client.create_snapshot(source, name, f"ci-trainer promotion to {environment}")
        self._step(steps, "create snapshot", self._tasks.wait(task, "creating the snapshot"), name)
        snapshot_id = self._find_snapshot(source, name)
        self.snapshot_ids[source] = snapshot_id
        steps.append(
            PromotionStep(name="find snapshot", status="done", id=snapshot_id, detail=name)
        )
        task = self._client.package_snapshot(snapshot_id)
        self._step(
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
        self._make_room(target_project, steps)
        task = self._client.upload_snapshot(target_project, f"{name}.csnap", package)
        self._step(
            steps,
            "upload to target project",
            self._tasks.wait(task, "uploading the snapshot"),
            target_project,
        )
        uploaded = self._find_snapshot(target_project, name)
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
            task = self._client.restore_snapshot(uploaded, target_project)
            self._step(
                steps,
                "restore in target project",
                self._tasks.wait(task, "restoring the snapshot"),
                uploaded,
            )
        return uploaded

    def _endpoint_project(self) -> str:
        return self._options.target_project_id or self._options.project_id

    def _find_endpoint(self, project_id: str, endpoint_id: str) -> dict[str, Any] | None:
        # Config ids may be upper-case hex; Cognigy's are lower-case.
        for endpoint in self._client.list_endpoints(project_id):
            if str(endpoint.get("_id", "")).lower() == endpoint_id.lower():
                return endpoint
        return None

    def _check_endpoint(self, steps: list[PromotionStep]) -> dict[str, Any]:
        """The configured endpoint, read before promoting; a missing one fails here."""
        endpoint_id = str(self._options.endpoint_id)
        project_id = self._endpoint_project()
        endpoint = self._find_endpoint(project_id, endpoint_id)
        if endpoint is None:
            steps.append(
                PromotionStep(
                    name="check endpoint",
                    status="failed",
                    id=endpoint_id,
                    detail=f"not an endpoint of project {project_id}",
                )
            )
            msg = f"endpoint {endpoint_id} is not an endpoint of project {project_id}"
            raise TrainingFailed(
                msg,
                hint="fix cognigy_v2.promotion.endpoint_id: the _id from the endpoint's URL in "
                "Cognigy, of an endpoint in the promotion target project (or in project_id "
                "when there is no target_project_id)",
            )
        steps.append(
            PromotionStep(
                name="check endpoint",
                status="done",
                id=endpoint_id,
                detail=f"{endpoint.get('name', '?')}"
                + (f": entrypoint {endpoint['entrypoint']}" if endpoint.get("entrypoint") else ""),
            )
        )
        return endpoint

    def _served_references(self, endpoint: dict[str, Any]) -> tuple[str, str]:
        """The flow and locale (referenceIds) the endpoint is to serve: its own when set
        (referenceIds survive snapshots), else the first target's."""
        flow_ref, locale_ref = endpoint.get("flowId"), endpoint.get("localeId")
        if isinstance(flow_ref, str) and flow_ref and isinstance(locale_ref, str) and locale_ref:
            return flow_ref, locale_ref
        default_flow, default_locale = self._references(self._options.targets[0])
        return (
            flow_ref if isinstance(flow_ref, str) and flow_ref else default_flow,
            locale_ref if isinstance(locale_ref, str) and locale_ref else default_locale,
        )

    def _repoint_endpoint(
        self, endpoint: dict[str, Any], snapshot_id: str, steps: list[PromotionStep]
    ) -> None:
        endpoint_id = str(endpoint["_id"])
        flow_ref, locale_ref = self._served_references(endpoint)
        changes = {"entrypoint": snapshot_id, "flowId": flow_ref, "localeId": locale_ref}
        detail = f"entrypoint {snapshot_id}, flow {flow_ref}, locale {locale_ref}"
        try:
            self._client.update_endpoint(endpoint_id, changes)
            after = self._find_endpoint(self._endpoint_project(), endpoint_id)
        except ApiError:
            steps.append(
                PromotionStep(
                    name="re-point endpoint", status="failed", id=endpoint_id, detail=detail
                )
            )
            raise
        # The list may not carry `entrypoint` (unconfirmed); a different value is an error.
        served = after.get("entrypoint") if after is not None else None
        if after is None or (served is not None and served != snapshot_id):
            steps.append(
                PromotionStep(
                    name="re-point endpoint", status="failed", id=endpoint_id, detail=detail
                )
            )
            raise ContractError(
                call="updateEndpoint",
                message_text=f"endpoint {endpoint_id} does not serve snapshot {snapshot_id} "
                f"after the update (it serves {served})",
                hint_text="check the endpoint in Cognigy; quote this to support",
            )
        steps.append(
            PromotionStep(name="re-point endpoint", status="done", id=endpoint_id, detail=detail)
        )

    def _step(self, steps: list[PromotionStep], name: str, task: Task, subject: str) -> None:
        status = "done" if task.status == "done" else "failed"
        detail = f"task {task.id} {task.status}" + (
            f": {task.fail_reason}" if task.fail_reason else ""
        )
        steps.append(PromotionStep(name=name, status=status, id=subject, detail=detail))
        if status != "done":
            raise TrainingFailed(
                f"{name} ended {task.status}"
                + (f": {task.fail_reason}" if task.fail_reason else "")
            )

    def _ci_snapshots(self, project_id: str) -> list[dict[str, Any]]:
        prefix = self._options.snapshot_prefix
        ours = [
            s
            for s in self._client.list_snapshots(project_id)
            if str(s.get("name", "")).startswith(prefix)
        ]
        return sorted(ours, key=lambda s: _sort_key(s.get("createdAt")))

    def _make_room(self, project_id: str, steps: list[PromotionStep]) -> None:
        snapshots = self._client.list_snapshots(project_id)
        if len(snapshots) < SNAPSHOT_LIMIT:
            return
        ours = self._ci_snapshots(project_id)
        if not self._options.delete_oldest_snapshot or not ours:
            steps.append(
                PromotionStep(
                    name="snapshot limit",
                    status="failed",
                    id=project_id,
                    detail=f"{len(snapshots)} snapshots",
                )
            )
            msg = f"project {project_id} already has {len(snapshots)} snapshots (the limit is {SNAPSHOT_LIMIT})"
            raise TrainingFailed(
                msg,
                hint="delete one in Cognigy, or set cognigy_v2.promotion.delete_oldest_snapshot: true "
                "to let ci-trainer delete its own oldest snapshot",
            )
        oldest = ours[0]
        self._client.delete_snapshot(oldest["_id"])
        steps.append(
            PromotionStep(
                name="delete oldest ci-trainer snapshot",
                status="done",
                id=oldest["_id"],
                detail=str(oldest.get("name")),
            )
        )

    def _find_snapshot(self, project_id: str, name: str) -> str:
        matches = [s for s in self._client.list_snapshots(project_id) if s.get("name") == name]
        if not matches:
            raise ContractError(
                call="indexSnapshots",
                message_text=f"no snapshot named {name} in project {project_id} after its task was done",
                hint_text="quote the task id to support",
            )
        # A retried create can leave two with one name: the newest is ours.
        return str(sorted(matches, key=lambda s: _sort_key(s.get("createdAt")))[-1]["_id"])


def _sort_key(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def _timestamp(value: object) -> datetime | None:
    key = _sort_key(value)
    return datetime.fromtimestamp(key, timezone.utc) if key else None

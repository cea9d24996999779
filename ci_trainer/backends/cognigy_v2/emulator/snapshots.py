"""The v2 emulator's snapshots and endpoints, as the real API behaves by default (C4-C7):

- a delete is a Task; the snapshot is listed (and counts toward the 10) until it is done;
- an uploaded snapshot shows in the list only some list reads after its upload Task is
  `done` (`upload_list_lag`), so a client must poll for its name;
- a snapshot's resources (`GET /snapshots/{id}/resources?resourceType=flow`) are what it
  holds, so a client can check that a flow is there before re-pointing an endpoint.

`V2Service` mixes this in; the state (projects, packages, the task pool) is its own.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from ci_trainer.backends.cognigy_v2.emulator.model import (
    MAX_SNAPSHOTS,
    Content,
    Endpoint,
    Project,
    Snapshot,
    TaskRecord,
    new_id,
)
from ci_trainer.backends.cognigy_v2.emulator.problems import TaskFailed, V2Problem

CSNAP_FORMAT = "ci-trainer-emulator-csnap/1"
RESOURCE_TYPES = frozenset({"flow", "locale", "nluconnector", "flowState", "largeLanguageModel"})


class SnapshotsAndEndpoints:
    """Snapshot and endpoint behaviour of `V2Service` (which defines what is declared
    here without a body)."""

    lock: threading.RLock
    projects: dict[str, Project]
    packages: dict[str, tuple[str, Content]]
    delete_at_once: bool
    upload_list_lag: int
    endpoint_quirks: list[str]

    def project(self, project_id: str) -> Project:
        raise NotImplementedError

    def start_task(
        self,
        task_type: str,
        project_id: str,
        parameters: dict[str, Any],
        work: Callable[[TaskRecord], None],
    ) -> TaskRecord:
        raise NotImplementedError

    def record_task(self, task: TaskRecord) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ lookups

    def snapshot(self, snapshot_id: str) -> tuple[Project, Snapshot]:
        for project in self.projects.values():
            snap = project.snapshots.get(snapshot_id)
            if snap is not None:
                return project, snap
        raise V2Problem(404, f"snapshot {snapshot_id} not found", 1002)

    def listed_snapshots(self, project_id: str) -> list[Snapshot]:
        """What one list read shows, oldest first: an upload still inside its lag is not
        there yet, and this read brings it one read closer."""
        with self.lock:
            project = self.project(project_id)
            shown = []
            for snap in sorted(project.snapshots.values(), key=lambda s: s.created_at):
                if snap.hidden_reads > 0:
                    snap.hidden_reads -= 1
                    continue
                shown.append(snap)
            return shown

    def snapshot_resources(self, snapshot_id: str, resource_type: str) -> list[dict[str, Any]]:
        if resource_type not in RESOURCE_TYPES:
            raise V2Problem(
                400, f"resourceType must be one of {', '.join(sorted(RESOURCE_TYPES))}", 1000
            )
        with self.lock:
            _, snap = self.snapshot(snapshot_id)
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snap.created_at))
            if resource_type == "flow":
                named = [(f.id, f.reference_id, f.name) for f in snap.content.flows.values()]
            elif resource_type == "locale":
                named = [
                    (loc.id, loc.reference_id, loc.name) for loc in snap.content.locales.values()
                ]
            else:
                named = []
        return [
            {
                "_id": resource_id,
                "referenceId": reference,
                "resourceType": resource_type,
                "name": name,
                "createdAt": created,
                "createdBy": "0" * 24,
            }
            for resource_id, reference, name in named
        ]

    # ------------------------------------------------------------------ snapshots

    def start_snapshot(self, project_id: str, name: str, description: str) -> TaskRecord:
        with self.lock:
            project = self.project(project_id)
            _check_room(project)

        def work(task: TaskRecord) -> None:
            with self.lock:
                _check_room(project)
                snap = Snapshot(
                    id=new_id(),
                    name=name,
                    description=description,
                    project_id=project.id,
                    content=project.content.copy(fresh_ids=False),
                )
                project.snapshots[snap.id] = snap

        params = {"projectId": project_id, "name": name}
        return self.start_task("createSnapshot", project_id, params, work)

    def delete_snapshot(self, snapshot_id: str) -> TaskRecord:
        """A Task that removes the snapshot when it runs (C4); with `delete_at_once` (the
        older reading of the docs) it is gone before the answer."""
        with self.lock:
            project, snap = self.snapshot(snapshot_id)
        params = {"snapshotId": snapshot_id}

        def work(task: TaskRecord) -> None:
            with self.lock:
                project.snapshots.pop(snap.id, None)  # a second delete finds it gone

        if not self.delete_at_once:
            return self.start_task("deleteSnapshot", project.id, params, work)
        with self.lock:
            del project.snapshots[snap.id]
            task = TaskRecord(
                id=new_id(),
                type="deleteSnapshot",
                project_id=project.id,
                parameters=params,
                status="done",
            )
            self.record_task(task)
        return task

    def start_package(self, snapshot_id: str) -> TaskRecord:
        with self.lock:
            project, snap = self.snapshot(snapshot_id)

        def work(task: TaskRecord) -> None:
            with self.lock:
                snap.is_packaged = True
                snap.package_expires_at = time.time() + 86400

        return self.start_task("packageSnapshot", project.id, {"snapshotId": snap.id}, work)

    def download_token(self, snapshot_id: str) -> str:
        with self.lock:
            _, snap = self.snapshot(snapshot_id)
            if not snap.is_packaged:
                raise V2Problem(409, "the snapshot is not packaged yet", 1004)
            token = new_id()
            self.packages[token] = (snap.name, snap.content)
        return token

    def package_bytes(self, token: str) -> bytes:
        with self.lock:
            if token not in self.packages:
                raise V2Problem(404, "unknown or expired download link", 1002)
            name = self.packages[token][0]
        body = {"format": CSNAP_FORMAT, "token": token, "name": name, "note": "emulator package"}
        return json.dumps(body).encode("utf-8")

    def start_upload(self, project_id: str, raw: bytes) -> TaskRecord:
        with self.lock:
            project = self.project(project_id)
            _check_room(project)
        try:
            manifest = json.loads(raw.decode("utf-8"))
            token = manifest["token"] if manifest.get("format") == CSNAP_FORMAT else None
        except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError):
            token = None
        if not isinstance(token, str):
            raise V2Problem(400, "the file is not a snapshot package (.csnap)", 1006)

        def work(task: TaskRecord) -> None:
            with self.lock:
                package = self.packages.get(token)
                if package is None:
                    msg = "the snapshot package is unknown to this installation"
                    raise TaskFailed(msg)
                _check_room(project)
                name, content = package
                snap = Snapshot(
                    id=new_id(),
                    name=name,
                    description="uploaded",
                    project_id=project.id,
                    content=content.copy(fresh_ids=True),
                    hidden_reads=self.upload_list_lag,
                )
                project.snapshots[snap.id] = snap

        return self.start_task("uploadSnapshotPackage", project_id, {"projectId": project_id}, work)

    def start_restore(self, snapshot_id: str, project_id: str | None) -> TaskRecord:
        with self.lock:
            project, snap = self.snapshot(snapshot_id)
        if project_id is not None and project_id != project.id:
            raise V2Problem(
                400, "a snapshot can only be restored into the project it belongs to", 1005
            )

        def work(task: TaskRecord) -> None:
            with self.lock:
                project.content = snap.content.copy(fresh_ids=snap.project_id != project.id)

        return self.start_task("restoreSnapshot", project.id, {"snapshotId": snap.id}, work)

    # ------------------------------------------------------------------ endpoints

    def add_endpoint(
        self,
        project_id: str,
        name: str,
        *,
        endpoint_id: str | None = None,
        flow_ref: str | None = None,
        locale_ref: str | None = None,
    ) -> Endpoint:
        """An endpoint serving the project's working copy (seeding, tests)."""
        with self.lock:
            project = self.project(project_id)
            endpoint = Endpoint(
                id=endpoint_id or new_id(),
                name=name,
                entrypoint=project.id,
                flow_id=flow_ref,
                locale_id=locale_ref,
            )
            project.endpoints[endpoint.id] = endpoint
        return endpoint

    def endpoint(self, endpoint_id: str) -> tuple[Project, Endpoint]:
        for project in self.projects.values():
            endpoint = project.endpoints.get(endpoint_id)
            if endpoint is not None:
                return project, endpoint
        raise V2Problem(404, f"endpoint {endpoint_id} not found", 1002)

    def quirk_next_endpoint_update(self, quirk: str) -> None:
        """The next PATCH answers success but is `ignored` (nothing changes) or lands on
        the `working-copy` (the project itself) instead of the entrypoint sent (tests)."""
        if quirk not in ("ignored", "working-copy"):
            msg = f"unknown endpoint quirk {quirk!r}"
            raise ValueError(msg)
        with self.lock:
            self.endpoint_quirks.append(quirk)

    def update_endpoint(self, endpoint_id: str, changes: dict[str, Any]) -> None:
        """PATCH semantics: the given fields change. An `entrypoint` must be the project
        or one of its snapshots, and `flowId`/`localeId` must name a flow and a locale
        (by referenceId) of what that entrypoint serves."""
        with self.lock:
            project, endpoint = self.endpoint(endpoint_id)
            quirk = self.endpoint_quirks.pop(0) if self.endpoint_quirks else None
            if quirk == "ignored":
                return
            if quirk == "working-copy":
                changes = {**changes, "entrypoint": project.id}
            entrypoint = changes.get("entrypoint", endpoint.entrypoint)
            if entrypoint == project.id:
                content = project.content
            elif isinstance(entrypoint, str) and entrypoint in project.snapshots:
                content = project.snapshots[entrypoint].content
            else:
                raise V2Problem(
                    400, f"entrypoint {entrypoint} is not a snapshot of project {project.id}", 1005
                )
            flow_ref = changes.get("flowId", endpoint.flow_id)
            locale_ref = changes.get("localeId", endpoint.locale_id)
            if flow_ref is not None and flow_ref not in {
                f.reference_id for f in content.flows.values()
            }:
                raise V2Problem(400, f"flowId {flow_ref} is not a flow of the entrypoint", 1005)
            if locale_ref is not None and locale_ref not in {
                loc.reference_id for loc in content.locales.values()
            }:
                raise V2Problem(
                    400, f"localeId {locale_ref} is not a locale of the entrypoint", 1005
                )
            endpoint.entrypoint = str(entrypoint)
            endpoint.flow_id = flow_ref if isinstance(flow_ref, str) else None
            endpoint.locale_id = locale_ref if isinstance(locale_ref, str) else None
            if isinstance(changes.get("name"), str):
                endpoint.name = changes["name"]


def _check_room(project: Project) -> None:
    if len(project.snapshots) >= MAX_SNAPSHOTS:
        raise V2Problem(
            400,
            f"the project already has the maximum of {MAX_SNAPSHOTS} snapshots; delete one first",
            1005,
        )

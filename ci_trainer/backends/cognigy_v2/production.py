"""What production is, and whether it can be scored (issue 18).

Production is what the configured endpoint serves: `GET /endpoints/{id}` gives its
`entrypoint`, the project itself (its working copy) or one of the project's snapshots,
and the flow and locale (referenceIds) it serves. Without an endpoint it is inferred: the
newest ci-trainer snapshot of the promotion target project, and the version says so.

`nlu/scores` takes a project id, a flow and a locale referenceId and a sentence, and no
snapshot (RAC `IGenerateNluScoresRestData_2_0`; the API reference's body has the same
three fields): it scores the project's working copy. So production is scored only on a
working copy that is production or provably holds it:

- the endpoint serves the project itself, and that project is not the one ci-trainer
  trains in (there, the working copy holds the candidate once it is trained);
- the endpoint serves snapshot S, and the working copy holds S: the project's newest
  `restoreSnapshot` Task restored S (its `data.snapshotId`) and is `done`, and every
  Task listed after it is of a kind that leaves the working copy's model alone
  (`KEEPS_MODEL`). What this rests on: a project's Task list holds every Task it ran,
  and its trained model changes only through a Task (a training, a restore, an import,
  a package merge), never by an edit alone. A restore Task whose `data` does not name
  its snapshot proves nothing (RAC types `data` as free-form), and then nothing is scored.

Anything else is not scored, and `ModelVersion.unscorable` names the served snapshot and
says why; `ModelVersion.scored_on` names what a scored one ran against.
"""

from __future__ import annotations

from typing import Any

from ci_trainer.backend_types import ModelVersion
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.endpoint import ENDPOINT_HINT
from ci_trainer.backends.cognigy_v2.ids import is_id
from ci_trainer.backends.cognigy_v2.options import V2Options
from ci_trainer.backends.cognigy_v2.snapshots import SnapshotSteps, timestamp
from ci_trainer.errors import ApiError, ContractError, FeatureUnavailable, TrainingFailed

# Task kinds (RAC's action types, and the delete and export Tasks) that do not change a
# project's working copy: snapshots made of it, carried, deleted; exports of it.
KEEPS_MODEL = frozenset(
    {
        "createSnapshot",
        "packageSnapshot",
        "uploadSnapshotPackage",
        "deleteSnapshot",
        "exportIntents",
        "exportLexicons",
        "createPackage",
        "packageTrainerRecords",
    }
)


PROBE = "ci-trainer: is there a model to score?"  # a sentence no intent is about


class ProductionReader:
    """Reads what production is, and keeps the flow and locale it is served through."""

    def __init__(self, client: CognigyV2Client, options: V2Options, snapshots: SnapshotSteps):
        self._client = client
        self._options = options
        self._snapshots = snapshots
        # version id -> the (flow, locale) referenceIds the endpoint serves, when it says
        self.references: dict[str, tuple[str | None, str | None]] = {}

    def version(self) -> ModelVersion | None:
        if self._options.endpoint_id:
            return self._served(self._options.endpoint_id.lower())
        return self._inferred()

    # ------------------------------------------------------------------ served

    def _served(self, endpoint_id: str) -> ModelVersion:
        project = self._options.target_project_id or self._options.project_id
        try:
            endpoint = self._client.read_endpoint(endpoint_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            msg = (
                f"endpoint {endpoint_id} (cognigy_v2.promotion.endpoint_id) was not found, so "
                "what production serves is unknown; nothing was trained or changed"
            )
            raise TrainingFailed(msg, hint=ENDPOINT_HINT) from exc
        entrypoint = endpoint.get("entrypoint")
        if not isinstance(entrypoint, str) or not is_id(entrypoint):
            raise ContractError(
                call="readEndpoint",
                message_text=f"endpoint {endpoint_id} has no readable entrypoint "
                f"({_short(entrypoint)}), so what production serves is unknown",
                hint_text="check the endpoint in Cognigy; quote this to support",
            )
        flow_ref, locale_ref = _text(endpoint.get("flowId")), _text(endpoint.get("localeId"))
        through = f"through the endpoint's flow {_short(flow_ref)} and locale {_short(locale_ref)}"
        trains_here = project == self._options.project_id
        if entrypoint == project:
            version_id = f"{project}:working copy"
            served = f"endpoint {endpoint_id} serves project {project} itself (its working copy)"
            created = None
            if trains_here:
                version = ModelVersion(
                    version_id=version_id,
                    unscorable=f"{served}, the project ci-trainer trains the candidate in: "
                    "once trained it holds the candidate, so production cannot be scored "
                    "apart from it (configure cognigy_v2.promotion.target_project_id)",
                )
            else:
                missing = self._unscorable_flow(project, flow_ref, locale_ref)
                version = ModelVersion(
                    version_id=version_id,
                    scored_on=None
                    if missing
                    else f"project {project}'s working copy, which endpoint "
                    f"{endpoint_id} serves (its entrypoint is the project), {through}",
                    unscorable=f"{served}, which {missing}" if missing else None,
                )
        else:
            snapshot = self._snapshot(project, entrypoint)
            label = f"snapshot {entrypoint}" + (
                f" ({_short(snapshot.get('name'))})" if snapshot else ""
            )
            version_id = f"{project}:{entrypoint}"
            served = f"endpoint {endpoint_id} serves {label}"
            created = timestamp(snapshot.get("createdAt")) if snapshot else None
            if trains_here:
                held, why = (
                    False,
                    (f"project {project} is the one ci-trainer trains the candidate in"),
                )
            else:
                held, why = self._holds(project, entrypoint)
            version = ModelVersion(
                version_id=version_id,
                promoted_at=created,
                scored_on=f"project {project}'s working copy, which holds {label}, as {served}: "
                f"{why}; {through}"
                if held
                else None,
                unscorable=None
                if held
                else f"{served}; nlu/scores scores a project's working copy and takes no "
                f"snapshot, and project {project}'s working copy is not shown to hold it: {why}",
            )
        self.references[version_id] = (flow_ref, locale_ref)
        return version

    def _unscorable_flow(
        self, project: str, flow_ref: str | None, locale_ref: str | None
    ) -> str | None:
        """Why the working copy has nothing to score through the endpoint's flow, if so:
        one probe of `nlu/scores` (a project nothing was restored into has no such flow)."""
        if flow_ref is None or locale_ref is None:
            return "names no flow or locale to score through"
        try:
            self._client.nlu_scores(project, PROBE, flow_ref, locale_ref)
        except ApiError as exc:
            if exc.status not in (400, 404):
                raise
            return (
                f"has no flow {_short(flow_ref)} in locale {_short(locale_ref)} to score "
                f"(nlu/scores answered {exc.status}): there is no production model yet"
            )
        return None

    def _snapshot(self, project: str, snapshot_id: str) -> dict[str, Any] | None:
        return next(
            (s for s in self._client.list_snapshots(project) if s.get("_id") == snapshot_id),
            None,
        )

    # ------------------------------------------------------------------ inferred

    def _inferred(self) -> ModelVersion | None:
        project = self._options.target_project_id
        if project is None:
            msg = "no cognigy_v2.promotion.target_project_id"
            raise FeatureUnavailable(msg)
        ours = self._snapshots.ci_snapshots(project)
        if not ours:
            return None
        newest = ours[-1]
        snapshot_id, name = str(newest.get("_id")), _short(newest.get("name"))
        how = (
            "inferred, as no cognigy_v2.promotion.endpoint_id is configured: production is "
            f"taken to be the newest ci-trainer snapshot of project {project}, {name} "
            f"({snapshot_id})"
        )
        held, why = self._holds(project, snapshot_id)
        return ModelVersion(
            version_id=f"{project}:{newest.get('name')}",
            promoted_at=timestamp(newest.get("createdAt")),
            scored_on=f"project {project}'s working copy, which holds it: {why} ({how})"
            if held
            else None,
            unscorable=None
            if held
            else f"{how}; nlu/scores scores a project's working copy, which is not shown to "
            f"hold it: {why}",
        )

    # ------------------------------------------------------------------ proof

    def _holds(self, project: str, snapshot_id: str) -> tuple[bool, str]:
        """Whether the project's working copy provably holds the snapshot, and why."""
        tasks = self._client.list_tasks(project)
        if any(t.created_at is None and t.kind not in KEEPS_MODEL for t in tasks):
            return False, "a Task of the project has no creation time, so the order is unknown"
        ordered = sorted(tasks, key=lambda t: t.created_at or 0.0)
        restores = [t for t in ordered if t.kind == "restoreSnapshot"]
        if not restores:
            return False, f"no restore is listed among the Tasks of project {project}"
        last = restores[-1]
        # Creation times are in whole seconds: a Task of the same second may be the later.
        same_time = [t for t in restores if t.created_at == last.created_at]
        restored = next(
            (
                t.data.get("snapshotId")
                for t in same_time
                if t.data.get("snapshotId") != snapshot_id
            ),
            last.data.get("snapshotId"),
        )
        if restored != snapshot_id:
            said = (
                f"restored snapshot {_short(restored)}"
                if isinstance(restored, str)
                else "does not say which snapshot it restored"
            )
            return False, f"its newest restore (Task {last.id}) {said}"
        if last.status != "done":
            return False, f"its newest restore (Task {last.id}) is {last.status}"
        later = [
            t
            for t in ordered
            if t is not last
            and (t.created_at or 0.0) >= (last.created_at or 0.0)
            and t.kind not in KEEPS_MODEL
        ]
        if later:
            return False, (
                f"Task {later[0].id} ({_short(later[0].kind)}) ran after its restore "
                f"(Task {last.id}) or in the same second, and may have changed the working "
                "copy's model"
            )
        return True, (
            f"its newest restore (Task {last.id}) restored that snapshot, and no Task since "
            "changed the working copy's model"
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _short(value: object) -> str:
    """A service's value as printed: trimmed (it is untrusted, C14)."""
    text = str(value)
    return text if len(text) <= 60 else text[:60] + "..."

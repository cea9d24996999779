"""Re-pointing the configured endpoint at the promoted snapshot, verified (C5, C6):

check (before anything is created: the endpoint is in the project's list, and its own
read says what it serves) -> the flow it is to serve is in the snapshot
(`/snapshots/{id}/resources`; else no PATCH) -> `PATCH /endpoints/{id}` -> read it back
(`GET /endpoints/{id}`): only an `entrypoint` equal to the snapshot counts as promoted.
A PATCH whose answer was lost is not re-sent blindly (C1): the read-back decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ci_trainer.backend_types import PromotionStep
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.backends.cognigy_v2.writes import may_have_applied
from ci_trainer.errors import ApiError, ContractError, TrainingFailed

_HINT = (
    "fix cognigy_v2.promotion.endpoint_id: the _id from the endpoint's URL in Cognigy, of "
    "an endpoint in the promotion target project (or in project_id when there is no "
    "target_project_id)"
)


class EndpointSteps:
    """The configured endpoint's steps for one promotion."""

    def __init__(
        self,
        client: CognigyV2Client,
        options: V2Options,
        references: Callable[[V2Target], tuple[str, str]],
    ) -> None:
        self._client = client
        self._options = options
        self._references = references

    @property
    def project_id(self) -> str:
        return self._options.target_project_id or self._options.project_id

    def check(self, steps: list[PromotionStep]) -> dict[str, Any]:
        """The configured endpoint as its own read shows it; one that is not in the
        project's list fails here, before any snapshot exists."""
        wanted = str(self._options.endpoint_id)
        # Config ids may be upper-case hex; Cognigy's are lower-case.
        listed = next(
            (
                e
                for e in self._client.list_endpoints(self.project_id)
                if str(e.get("_id", "")).lower() == wanted.lower()
            ),
            None,
        )
        if listed is None:
            steps.append(
                PromotionStep(
                    name="check endpoint",
                    status="failed",
                    id=wanted,
                    detail=f"not an endpoint of project {self.project_id}",
                )
            )
            msg = f"endpoint {wanted} is not an endpoint of project {self.project_id}"
            raise TrainingFailed(msg, hint=_HINT)
        endpoint = self._client.read_endpoint(str(listed["_id"]))
        steps.append(
            PromotionStep(
                name="check endpoint",
                status="done",
                id=str(listed["_id"]),
                detail=f"{_short(endpoint.get('name', listed.get('name', '?')))}: "
                f"{_serves(endpoint)}",
            )
        )
        return {**listed, **endpoint, "_id": str(listed["_id"])}

    def repoint(
        self, endpoint: dict[str, Any], snapshot_id: str, steps: list[PromotionStep]
    ) -> None:
        """Check the flow is in the snapshot, PATCH, and confirm by reading the endpoint."""
        endpoint_id = str(endpoint["_id"])
        flow_ref, locale_ref = self._served_references(endpoint)
        self._check_flow(snapshot_id, flow_ref, steps)
        changes = {"entrypoint": snapshot_id, "flowId": flow_ref, "localeId": locale_ref}
        detail = f"entrypoint {snapshot_id}, flow {_short(flow_ref)}, locale {_short(locale_ref)}"
        try:
            self._patch(endpoint_id, changes)
        except ApiError as exc:
            steps.append(
                PromotionStep(
                    name="re-point endpoint",
                    status="failed",
                    id=endpoint_id,
                    detail=f"{detail}: {exc.message_text}",
                )
            )
            raise
        steps.append(
            PromotionStep(name="re-point endpoint", status="done", id=endpoint_id, detail=detail)
        )
        self._verify(endpoint_id, changes, steps)

    def production_state(self) -> PromotionStep:
        """What the endpoint serves now, read back; said as unknown when it cannot be read."""
        endpoint_id = str(self._options.endpoint_id).lower()
        try:
            endpoint = self._client.read_endpoint(endpoint_id)
        except (ApiError, ContractError) as exc:
            return PromotionStep(
                name="production serves",
                status="unknown",
                id=endpoint_id,
                detail=f"unknown: could not read endpoint {endpoint_id} ({exc})",
            )
        return PromotionStep(
            name="production serves", status="read", id=endpoint_id, detail=_serves(endpoint)
        )

    # ------------------------------------------------------------------ the steps

    def _served_references(self, endpoint: dict[str, Any]) -> tuple[str, str]:
        """The flow and locale (referenceIds) the endpoint is to serve: its own when set
        (referenceIds survive snapshots), else the first target's."""
        flow_ref, locale_ref = endpoint.get("flowId"), endpoint.get("localeId")
        default_flow, default_locale = self._references(self._options.targets[0])
        return (
            flow_ref if isinstance(flow_ref, str) and flow_ref else default_flow,
            locale_ref if isinstance(locale_ref, str) and locale_ref else default_locale,
        )

    def _check_flow(self, snapshot_id: str, flow_ref: str, steps: list[PromotionStep]) -> None:
        flows = self._client.list_snapshot_resources(snapshot_id, "flow")
        found = next((f for f in flows if f.get("referenceId") == flow_ref), None)
        if found is None:
            steps.append(
                PromotionStep(
                    name="check flow in snapshot",
                    status="failed",
                    id=snapshot_id,
                    detail=f"flow {_short(flow_ref)} is not among its {len(flows)} flows; "
                    "the endpoint was not changed",
                )
            )
            msg = (
                f"snapshot {snapshot_id} has no flow {_short(flow_ref)}, which the endpoint "
                "is to serve"
            )
            raise TrainingFailed(
                msg,
                hint="the endpoint serves a flow this project does not have: point it at a "
                "flow of the project in Cognigy, or configure a target of that flow",
            )
        steps.append(
            PromotionStep(
                name="check flow in snapshot",
                status="done",
                id=snapshot_id,
                detail=f"flow {_short(found.get('name', '?'))} ({_short(flow_ref)})",
            )
        )

    def _patch(self, endpoint_id: str, changes: dict[str, str]) -> None:
        """PATCH; after a lost answer, sent once more only if the read does not show it."""
        try:
            self._client.update_endpoint(endpoint_id, changes)
        except ApiError as exc:
            if not may_have_applied(exc):
                raise
            if _shows(self._client.read_endpoint(endpoint_id), changes):
                return
            self._client.update_endpoint(endpoint_id, changes)

    def _verify(
        self, endpoint_id: str, changes: dict[str, str], steps: list[PromotionStep]
    ) -> None:
        endpoint = self._client.read_endpoint(endpoint_id)
        if _shows(endpoint, changes):
            steps.append(
                PromotionStep(
                    name="verify endpoint",
                    status="done",
                    id=endpoint_id,
                    detail=f"read back: {_serves(endpoint)}",
                )
            )
            return
        steps.append(
            PromotionStep(
                name="verify endpoint",
                status="failed",
                id=endpoint_id,
                detail=f"read back: {_serves(endpoint)}, not snapshot {changes['entrypoint']}",
            )
        )
        raise ContractError(
            call="readEndpoint",
            message_text=f"endpoint {endpoint_id} does not serve snapshot "
            f"{changes['entrypoint']} after the update: {_serves(endpoint)}",
            hint_text="check the endpoint in Cognigy; quote this to support",
        )


def _shows(endpoint: dict[str, Any], changes: dict[str, str]) -> bool:
    return all(endpoint.get(key) == value for key, value in changes.items())


def _short(value: object) -> str:
    """A service's value as printed: trimmed (it is untrusted, C14)."""
    text = str(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _serves(endpoint: dict[str, Any]) -> str:
    entrypoint = endpoint.get("entrypoint")
    shown = _short(entrypoint) if entrypoint else "no entrypoint in its read"
    return (
        f"serves entrypoint {shown}, flow {_short(endpoint.get('flowId'))}, "
        f"locale {_short(endpoint.get('localeId'))}"
    )

"""The v2 emulator's data: projects, locales, flows, intents, train groups, snapshots, tasks.

Ids follow Cognigy's conventions: `_id` is 24 lowercase hex characters, `referenceId`
a UUID that stays the same across snapshots (scores name intents and flows by it).
"""

from __future__ import annotations

import copy
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ci_trainer.emulator.training import TrainedModel

MAX_SNAPSHOTS = 10  # per project (Cognigy's documented limit)
DEFAULT_LOWER, DEFAULT_UPPER = 0.2, 0.4  # intent thresholds of a new flow


def new_id() -> str:
    return secrets.token_hex(12)


def new_reference() -> str:
    return str(uuid.uuid4())


@dataclass
class Locale:
    id: str
    name: str
    primary: bool = False
    reference_id: str = field(default_factory=new_reference)

    def render(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "referenceId": self.reference_id,
            "name": self.name,
            "primary": self.primary,
            "nluLanguage": self.name,
            "fallbackLocaleReference": None,
        }


@dataclass
class Intent:
    id: str
    name: str
    sentences: dict[str, list[str]] = field(default_factory=dict)  # locale referenceId -> texts
    reference_id: str = field(default_factory=new_reference)
    is_reject: bool = False
    is_disabled: bool = False
    tags: list[str] = field(default_factory=list)
    parent: str | None = None  # the parent intent's name (by name, so copies keep it)


@dataclass
class TrainGroup:
    """One model: a flow in a locale, with its Intent Analyzer report."""

    model: TrainedModel | None = None
    flow_report: dict[str, Any] | None = None
    intent_reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # intent name ->
    last_trained_at: float | None = None
    out_of_date: bool = True


@dataclass
class Flow:
    id: str
    name: str
    reference_id: str = field(default_factory=new_reference)
    intents: dict[str, Intent] = field(default_factory=dict)  # by name
    groups: dict[str, TrainGroup] = field(default_factory=dict)  # locale referenceId ->
    # The flow settings' intentThreshold: Cognigy's defaults (Thresholds page),
    # reconfirmation 0.2 (`lower`) and confidence 0.4 (`upper`). Tests may set any
    # value, or None for settings that carry none.
    intent_threshold: dict[str, Any] | None = field(
        default_factory=lambda: {"lower": DEFAULT_LOWER, "upper": DEFAULT_UPPER}
    )

    def group(self, locale_ref: str) -> TrainGroup:
        return self.groups.setdefault(locale_ref, TrainGroup())


@dataclass
class Content:
    """What a snapshot holds: the project's locales and flows with their trained models."""

    locales: dict[str, Locale]
    flows: dict[str, Flow]

    def copy(self, fresh_ids: bool) -> Content:
        """A deep copy; trained models are shared (they never change after training).

        `fresh_ids` gives every resource a new `_id` (a restore into another project)
        while keeping the referenceIds.
        """
        memo: dict[int, Any] = {}
        for flow in self.flows.values():
            for group in flow.groups.values():
                if group.model is not None:
                    memo[id(group.model)] = group.model
        clone = copy.deepcopy(self, memo)
        if not fresh_ids:
            return clone
        locales = {}
        for locale in clone.locales.values():
            locale.id = new_id()
            locales[locale.id] = locale
        flows = {}
        for flow in clone.flows.values():
            flow.id = new_id()
            for intent in flow.intents.values():
                intent.id = new_id()
            flows[flow.id] = flow
        return Content(locales=locales, flows=flows)


@dataclass
class Snapshot:
    id: str
    name: str
    description: str
    project_id: str
    content: Content
    created_at: float = field(default_factory=time.time)
    is_packaged: bool = False
    package_expires_at: float | None = None
    hidden_reads: int = 0  # list reads still to miss it (an upload's lag, C7)

    def render(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "name": self.name,
            "description": self.description,
            "hash": self.id[::-1],
            "createdAt": int(self.created_at),
            "createdBy": "0" * 24,
            "isPackaged": self.is_packaged,
            "packageExpiresAt": int(self.package_expires_at) if self.package_expires_at else None,
        }


@dataclass
class Endpoint:
    """A channel endpoint: serves one flow in one locale of the project's working copy
    (`entrypoint` is the project's _id) or of one of its snapshots (a snapshot _id).

    `flow_id` and `locale_id` are referenceIds, which stay the same across snapshots.
    Endpoints are not part of snapshots, so they live on the project, not in `Content`.
    """

    id: str
    name: str
    entrypoint: str
    flow_id: str | None = None
    locale_id: str | None = None
    channel: str = "rest"
    url_token: str = field(default_factory=lambda: secrets.token_hex(32))

    def render(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "name": self.name,
            "channel": self.channel,
            "entrypoint": self.entrypoint,
            "flowId": self.flow_id,
            "localeId": self.locale_id,
            "URLToken": self.url_token,
            "active": True,
        }


@dataclass
class Project:
    id: str
    name: str
    content: Content
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)


@dataclass
class TaskRecord:
    id: str
    type: str
    project_id: str
    parameters: dict[str, Any]
    status: str = "queued"
    fail_reason: str | None = None
    current_step: int = 0
    total_step: int = 100
    created_at: float = field(default_factory=time.time)
    last_changed: float = field(default_factory=time.time)
    last_run_at: float | None = None
    last_finished_at: float | None = None
    cancel_requested: bool = False

    def set(self, status: str, **changes: Any) -> None:
        self.status = status
        self.last_changed = time.time()
        for key, value in changes.items():
            setattr(self, key, value)

    def render_created(self, time_field: str) -> dict[str, Any]:
        """The created-task shape (`type`, `parameters`; the timestamp name varies).

        It describes the task as it was created (`queued`), even when a worker has
        already picked it up, as a real reply would have been sent before that.
        """
        return {
            "_id": self.id,
            "type": self.type,
            "parameters": self.parameters,
            "status": "done" if self.status == "done" and not self.last_run_at else "queued",
            "currentStep": 0,
            "totalStep": self.total_step,
            "lastChangedAt": int(self.last_changed),
            time_field: int(self.created_at),
        }

    def render_read(self) -> dict[str, Any]:
        """The read shape (`name`, `data`, `failReason`, run timestamps)."""
        return {
            "_id": self.id,
            "name": self.type,
            "data": self.parameters,
            "status": self.status,
            "currentStep": self.current_step,
            "totalStep": self.total_step,
            "failReason": self.fail_reason,
            "lastRunAt": _iso(self.last_run_at),
            "lastFinishedAt": _iso(self.last_finished_at),
            "createdAt": int(self.created_at),
            "lastChanged": int(self.last_changed),
            "createdBy": "0" * 24,
            "lastChangedBy": "0" * 24,
        }


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))

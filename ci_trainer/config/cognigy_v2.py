"""The `cognigy_v2:` section of training-config.yaml (backend `cognigy-v2`).

Kept next to the backend (and imported by `ci_trainer.config.model`) so the v2 options
live in one place. Secrets never appear here: the API key comes from COGNIGY_API_KEY,
OAuth2 client credentials from COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from ci_trainer.http.base_url import BaseUrlError, v2_base_url

# C14: path ids are 24 lower-case letters and digits (the API reference's pattern).
_OBJECT_ID = re.compile(r"^[a-z0-9]{24}$")


def _error(*, kind: str, template: str, context: dict[str, object] | None = None) -> Exception:
    # Custom error kinds, so the config messages do not read them as env var patterns.
    return PydanticCustomError(kind, template, context)


def _object_id(value: str) -> str:
    if not _OBJECT_ID.fullmatch(value):
        raise _error(
            kind="cognigy_id",
            template="expected a Cognigy _id: 24 lower-case letters and digits, copied from the "
            "resource's URL in Cognigy.AI",
        )
    return value


ObjectId = Annotated[
    str,
    AfterValidator(_object_id),
    WithJsonSchema({"type": "string", "pattern": _OBJECT_ID.pattern}),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendSection(_Section):
    """A backend's own section of the config: the section named as the backend (dashes
    as underscores), which the config model requires when that backend is chosen."""

    def check_across(self, dataset_paths: Mapping[str, str | None]) -> None:
        """Rules between this section and the rest of the config; `dataset_paths` is
        datasets[].id -> path. Raises PydanticCustomError. None by default."""


class V2TargetSection(_Section):
    flow_id: ObjectId = Field(
        description="The flow's _id (24 lower-case letters and digits, from the flow's URL)."
    )
    locales: list[ObjectId] = Field(
        min_length=1,
        max_length=10,
        description="Locale _ids to train this flow in; each flow x locale is one model.",
    )
    dataset: str = Field(
        min_length=1,
        description="Id of the `datasets` entry whose `path` is this flow's committed intents "
        "file (Cognigy's intent JSON export or its 3-column CSV); it is checked by the "
        "dataset gate and, with `import_mode`, imported before training.",
    )


class V2PromotionSection(_Section):
    target_project_id: ObjectId | None = Field(
        default=None,
        description="Project the snapshot is uploaded to (and restored in) on promotion; "
        "null keeps the packaged snapshot in the source project only.",
    )
    restore: bool = Field(
        default=True, description="Restore the uploaded snapshot in the target project."
    )
    snapshot_prefix: str = Field(
        default="ci-trainer-",
        min_length=3,
        max_length=40,
        description="Snapshot names start with this; only such snapshots may be deleted.",
    )
    delete_oldest_snapshot: bool = Field(
        default=False,
        description="At the 10-snapshots-per-project limit, delete the oldest snapshot named "
        "with `snapshot_prefix` that no endpoint serves, and wait for its deletion (else "
        "promotion fails and says so).",
    )
    endpoint_id: ObjectId | None = Field(
        default=None,
        description="An Endpoint's _id (from its URL) to re-point at the promoted snapshot "
        "(`entrypoint`), keeping the flow and locale it serves. It must be an endpoint of "
        "`target_project_id` when that is set, else of `project_id`; null re-points nothing.",
    )


class CognigyV2Section(BackendSection):
    base_url: str = Field(
        min_length=1,
        description="The API host, e.g. https://api-trial.cognigy.ai (the client adds "
        "/new/v2.0); also accepted: <host>/new/v2.0, <host>/v2.0 and <host>/openapi (the "
        "docs' API Base URL; stripped, with a notice). COGNIGY_BASE_URL overrides it.",
    )
    oauth2_scope: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        pattern=r"^\S+( \S+)*$",  # RFC 6749 3.3: scope tokens, one space apart
        description="With OAuth2 client credentials (COGNIGY_CLIENT_ID/SECRET): the `scope` "
        "sent to <host>/auth/oauth2/token (space-separated); null sends none.",
    )
    project_id: ObjectId = Field(description="The project's _id.")
    targets: list[V2TargetSection] = Field(
        min_length=1, description="Flows and the locales each is trained in."
    )
    import_mode: Literal["overwrite", "merge", "skip", "none"] = Field(
        default="overwrite",
        description="How the committed intents file is imported before training "
        "(`none`: train on what the project holds).",
    )
    max_parallel: int = Field(
        default=2, ge=1, le=10, description="Trainings (Tasks) running at once."
    )
    holdout_target: int = Field(
        default=0,
        ge=0,
        description="Index into the flow x locale targets (in order) that `holdout` belongs to.",
    )
    apply_intent_threshold: bool = Field(
        default=True,
        description="Score the holdout as the live bot maps it: a top `nlu/scores` score below "
        "the holdout flow's reconfirmation threshold (its settings' `intentThreshold.lower`) "
        "counts as no intent, for the candidate and production alike; false compares the raw "
        "top intents.",
    )
    task_timeout_minutes: float = Field(
        default=15.0,
        gt=0,
        le=120,
        description="Give up on (and cancel) an import or snapshot Task after this long.",
    )
    max_requests_per_window: int = Field(
        default=600,
        ge=10,
        le=1000,
        description="Requests per 5 minutes this run may send (the tenant allows about 1,000).",
    )
    max_requests_per_run: int = Field(
        default=5000, ge=10, description="Requests the whole run may send."
    )
    promotion: V2PromotionSection = Field(
        default_factory=V2PromotionSection, description="Snapshot promotion (mode promote)."
    )

    def check_across(self, dataset_paths: Mapping[str, str | None]) -> None:
        """The base URL has an accepted form; each target's dataset has a path (its intents
        file); the holdout's target exists."""
        try:
            v2_base_url(self.base_url, "cognigy_v2.base_url")
        except BaseUrlError as exc:
            # Here, not in a field validator: a field's message would echo the value, and
            # a URL may hold a password. The rule's own words never show one.
            raise _error(
                kind="cognigy_v2_base_url",
                template="{problem}",
                context={"problem": str(exc)},
            ) from None
        for index, target in enumerate(self.targets):
            if dataset_paths.get(target.dataset) is None:
                raise _error(
                    kind="cognigy_v2_dataset",
                    template="targets[{index}].dataset `{dataset}` must be the id of a `datasets` "
                    "entry with a `path` (ids with a path: {known})",
                    context={
                        "index": index,
                        "dataset": target.dataset,
                        "known": ", ".join(sorted(k for k, v in dataset_paths.items() if v))
                        or "none",
                    },
                )
        models = sum(len(target.locales) for target in self.targets)
        if self.holdout_target >= models:
            raise _error(
                kind="cognigy_v2_holdout_target",
                template="holdout_target {index} is past the last of the {models} flow x locale "
                "targets (counting from 0)",
                context={"index": self.holdout_target, "models": models},
            )


def missing_section_error(backend: str, name: str, section: type[BaseModel]) -> Exception:
    """`backend` is chosen but its section `name` is absent: say which keys it needs."""
    needed = ", ".join(key for key, info in section.model_fields.items() if info.is_required())
    return _error(
        kind="backend_section_missing",
        template="backend {backend} needs a `{name}` section ({needed})",
        context={"backend": backend, "name": name, "needed": needed},
    )

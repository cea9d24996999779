"""`V2Variants`: where public sources disagree (or a behaviour is unconfirmed), which
shape the v2 emulator answers with. The defaults are what the contract notes (section 8)
say the real API does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class V2Variants:
    """Where public sources disagree, which shape this emulator answers with."""

    page_cursor_key: str = "nextCursor"  # or "next" (older spec pages)
    scores_shape: str = "array"  # or "object": {"scores": [...]}
    created_task_time: str = "createdAt"  # or "lastCreatedAt"
    flow_accuracy: bool = True  # feedbackReport.info.accuracy (TS type only)
    default_page_limit: int = 25
    hal_always: bool = False  # answer lists as HAL even to `Accept: application/json`
    endpoint_entrypoint: bool = False  # the endpoint list shows `entrypoint` (C5: it does not)
    snapshot_delete_at_once: bool = False  # DELETE is done before it answers (C4: a Task)
    upload_list_lag: int = 2  # list reads an uploaded snapshot is missing from (C7)
    restore_without_project: bool = False  # a restore without {projectId} (C17: required)
    intents_export: str = "direct"  # or "task": a Task, then a download link (exports.py)

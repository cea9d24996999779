"""Cognigy.AI REST API v2.0 response shapes, read tolerantly.

Public sources disagree on several shapes (docs/cognigy-v2.md lists them); each reader
here accepts every documented variant and refuses anything else with a `ContractError`
that names the call and the field:

- list pages: `{items, total, nextCursor|next}` (JSON) or HAL `{_embedded: {<kind>: [...]},
  _links: {next: {href}}}` where an item's id may be `<singular>Id` instead of `_id`;
- tasks: the created-task shape (`type`, `parameters`, `createdAt|lastCreatedAt`) and the
  read shape (`name`, `data`), with status `queued|active|done|cancelling|cancelled|error`;
- `nlu/scores`: a bare array or `{scores: [...]}`;
- errors: RFC 7807 with Cognigy's `code` and `traceId`, or OAuth-style `{error,
  error_description}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ci_trainer.errors import ApiError, AuthError, ContractError
from ci_trainer.http.client import HttpResponse
from ci_trainer.http.service_text import service_text
from ci_trainer.http.status import StatusTexts, error_from_response, problem_fields, scrub_body
from ci_trainer.http.strict_json import StrictJsonError
from ci_trainer.redact import Redactor

TASK_STATUSES = frozenset({"queued", "active", "done", "cancelling", "cancelled", "error"})
TERMINAL_TASK_STATUSES = frozenset({"done", "cancelled", "error"})
_SHAPE_HINT = (
    "the service does not answer in a shape documented for Cognigy.AI REST API v2.0; "
    "check cognigy_v2.base_url and quote the traceId to support"
)

# Overrides of the one status table (ci_trainer.http.status) in the v2 backend's words:
# the table's texts name v1 settings.
V2_STATUS_TEXT: StatusTexts = {
    400: ("the service rejected the request as invalid", "see the detail for the field"),
    401: ("the API key was not accepted", "check COGNIGY_API_KEY (action input api-key)"),
    403: (
        "permission denied",
        "the API key's user needs access to the project (cognigy_v2.project_id)",
    ),
    404: (
        "not found",
        "check cognigy_v2.project_id, the flow ids and locale ids in the config, and "
        "cognigy_v2.base_url",
    ),
    409: ("conflict with the resource's current state", "re-run the job in a minute"),
    413: (
        "the request body is too large for the service",
        "JSON bodies may be at most 60 kB and uploaded files 2 MB; split the intents file",
    ),
    429: (
        "rate limited by the service",
        "the tenant allows about 1,000 requests per 5 minutes; re-run later or lower "
        "cognigy_v2.max_requests_per_window",
    ),
}


@dataclass(frozen=True)
class Page:
    """One page of a list: its items (each with `_id`), total, and how to get the next."""

    items: list[dict[str, Any]]
    total: int | None = None
    next_cursor: str | None = None
    next_skip: int | None = None


@dataclass(frozen=True)
class Task:
    """A v2 Task in either shape (created or read)."""

    id: str
    status: str
    kind: str | None = None
    fail_reason: str | None = None
    progress: float | None = None  # 0..1 from currentStep/totalStep
    data: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None  # epoch seconds, when the answer says

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_TASK_STATUSES


@dataclass(frozen=True)
class Score:
    """One intent's score for a sentence (`nlu/scores`)."""

    intent_id: str | None
    name: str | None
    score: float
    flow: str | None = None


def contract_error(response: HttpResponse, redactor: Redactor, what: str) -> ContractError:
    return ContractError(
        call=response.call.label,
        message_text=what,
        status=response.status,
        body=scrub_body(response.text, redactor) if response.content else "(empty)",
        hint_text=_SHAPE_HINT,
    )


def json_of(response: HttpResponse, redactor: Redactor) -> Any:
    try:
        return response.json()
    except StrictJsonError as exc:
        # Duplicate keys or NaN: Python would read it, but one of its figures is no figure.
        raise contract_error(
            response,
            redactor,
            redactor(f"the HTTP {response.status} response is not strict JSON (RFC 8259): {exc}"),
        ) from None
    except ValueError:
        raise contract_error(
            response, redactor, f"the HTTP {response.status} response is not valid JSON"
        ) from None


def object_of(response: HttpResponse, redactor: Redactor) -> dict[str, Any]:
    body = json_of(response, redactor)
    if not isinstance(body, dict):
        raise contract_error(response, redactor, "expected a JSON object")
    return body


def v2_error(response: HttpResponse, redactor: Redactor) -> ApiError:
    """The typed error of a final non-2xx answer, with Cognigy's `code` and OAuth fields."""
    error_type: type[ApiError] = AuthError if response.status in (401, 403) else ApiError
    error = error_from_response(response, redactor, texts=V2_STATUS_TEXT, error_type=error_type)
    body = problem_fields(response)
    described = body.get("error_description")
    if error.detail is None and isinstance(described, str) and described:
        error.detail = redactor(described)
    oauth_error = body.get("error")
    if error.title is None and isinstance(oauth_error, str) and oauth_error:
        error.title = redactor(oauth_error)
    code = body.get("code")
    if isinstance(code, int | str) and not isinstance(code, bool) and str(code):
        error.extra["code"] = code
        error.detail = f"{error.detail} (Cognigy code {code})" if error.detail else f"code {code}"
    return error


def parse_page(response: HttpResponse, redactor: Redactor, kind: str, id_key: str) -> Page:
    """A list page in the JSON or the HAL shape; `kind` is the HAL plural, `id_key` the
    HAL item id (e.g. "snapshots", "snapshotId")."""
    body = object_of(response, redactor)
    raw_items: Any
    if "items" in body:
        raw_items = body["items"]
    elif isinstance(body.get("_embedded"), dict):
        raw_items = body["_embedded"].get(kind, [])
    else:
        raise contract_error(
            response, redactor, f"a list answer has neither 'items' nor '_embedded.{kind}'"
        )
    if not isinstance(raw_items, list) or not all(isinstance(i, dict) for i in raw_items):
        raise contract_error(response, redactor, "the list's items are not JSON objects")
    items = [_with_id(item, id_key) for item in raw_items]
    if any(not isinstance(item.get("_id"), str) for item in items):
        raise contract_error(response, redactor, f"a list item has no '_id' (or '{id_key}')")
    total = body.get("total")
    cursor = body.get("nextCursor", body.get("next"))
    next_skip: int | None = None
    if not isinstance(cursor, str) or not cursor:
        cursor, next_skip = _hal_next(body)
    return Page(
        items=items,
        total=total if isinstance(total, int) and not isinstance(total, bool) else None,
        next_cursor=cursor or None,
        next_skip=next_skip,
    )


def _with_id(item: dict[str, Any], id_key: str) -> dict[str, Any]:
    if "_id" in item or id_key not in item:
        return item
    return {**item, "_id": item[id_key]}


def _hal_next(body: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The next page from HAL `_links.next.href`: its `next` cursor or its `skip`."""
    links = body.get("_links")
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    if not isinstance(href, str) or not href:
        return None, None
    query = parse_qs(urlsplit(href).query)
    if query.get("next"):
        return query["next"][0], None
    skip = query.get("skip", [""])[0]
    return None, int(skip) if skip.isascii() and skip.isdigit() else None


def parse_task(response: HttpResponse, redactor: Redactor) -> Task:
    return _task_of(object_of(response, redactor), response, redactor)


def parse_task_item(item: Mapping[str, Any], redactor: Redactor) -> Task:
    """One Task of a task list (its item has the read shape)."""
    return _task_of(item, None, redactor)


def _task_of(body: Mapping[str, Any], response: HttpResponse | None, redactor: Redactor) -> Task:
    def refused(what: str) -> ContractError:
        if response is not None:
            return contract_error(response, redactor, what)
        return ContractError(call="indexTasks", message_text=what, hint_text=_SHAPE_HINT)

    task_id = body.get("_id", body.get("taskId"))
    status = body.get("status")
    if not isinstance(task_id, str) or not task_id:
        msg = "the task has no '_id'"
        raise refused(msg)
    if not isinstance(status, str) or status not in TASK_STATUSES:
        msg = (
            f"unknown task status {str(status)[:40]!r} (expected one of "
            f"{', '.join(sorted(TASK_STATUSES))})"
        )
        raise refused(msg)
    kind = body.get("name", body.get("type"))
    data = body.get("data", body.get("parameters"))
    reason = body.get("failReason")
    return Task(
        id=task_id,
        status=str(status),
        kind=kind if isinstance(kind, str) else None,
        # Bounded where it enters: a failReason reaches the reason, the summary, the
        # audit record and the webhook event.
        fail_reason=service_text(reason, redactor) if isinstance(reason, str) and reason else None,
        progress=_progress(body),
        data=data if isinstance(data, dict) else {},
        created_at=_epoch(body.get("createdAt", body.get("lastCreatedAt"))),
    )


def _epoch(value: object) -> float | None:
    """A timestamp as the API sends it (epoch seconds or milliseconds, or ISO 8601)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        return seconds / 1000.0 if seconds > 1e11 else seconds
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _progress(body: Mapping[str, Any]) -> float | None:
    step, total = body.get("currentStep"), body.get("totalStep")
    if not isinstance(step, int | float) or not isinstance(total, int | float) or total <= 0:
        return None
    return min(1.0, max(0.0, float(step) / float(total)))


def parse_scores(response: HttpResponse, redactor: Redactor) -> list[Score]:
    """`nlu/scores` in either shape, best first."""
    body = json_of(response, redactor)
    raw = body.get("scores") if isinstance(body, dict) else body
    if not isinstance(raw, list):
        raise contract_error(
            response, redactor, "nlu/scores answered neither an array nor {scores: [...]}"
        )
    scores: list[Score] = []
    for item in raw:
        value = item.get("score") if isinstance(item, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise contract_error(response, redactor, "a score item has no numeric 'score'")
        scores.append(
            Score(
                intent_id=_str_or_none(item.get("id")),
                name=_str_or_none(item.get("name")),
                score=float(value),
                flow=_str_or_none(item.get("flow")),
            )
        )
    return sorted(scores, key=lambda s: -s.score)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

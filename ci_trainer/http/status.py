"""A final non-2xx response -> a typed error: what the status means and how to fix it.

One status-to-fix table for every service; a backend whose users need other words (v2
names its own settings) passes overrides for some statuses, never a second table.
Every text that leaves here is redacted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar, overload

from ci_trainer.errors import ApiError
from ci_trainer.http.client import HttpResponse
from ci_trainer.http.policy import RETRY_STATUSES
from ci_trainer.http.service_text import optional_service_text, service_text
from ci_trainer.http.strict_json import loads_lenient
from ci_trainer.redact import MASK, Redactor

_SCRUB_WINDOW = 64 * 1024  # characters of a body looked at before trimming it
_SECRET_KEY = re.compile(r"token|secret|password|authorization|api[_-]?key", re.IGNORECASE)

# status -> (what happened, the fix)
StatusTexts = Mapping[int, tuple[str, str]]

STATUS_TEXT: StatusTexts = {
    400: (
        "the service rejected the request as invalid",
        "fix the field named in the detail (training config or dataset ids)",
    ),
    401: ("not authenticated", "check COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET"),
    403: ("permission denied", "the client needs more scopes on the service"),
    404: (
        "not found",
        "check model.id / COGNIGY_MODEL_ID, the dataset ids and COGNIGY_BASE_URL",
    ),
    # What a conflict means depends on the call: a backend names it per call (texts=).
    409: (
        "the service refused the call in its current state (conflict)",
        "see the detail for what conflicts; quote the traceId to support",
    ),
    429: (
        "rate limited by the service",
        "the tenant's rate limit is exhausted; re-run later or raise "
        "training.poll_interval_floor_seconds",
    ),
}


def status_text(status: int, overrides: StatusTexts | None = None) -> tuple[str, str]:
    """(message, hint) for `status`: the override, the table's entry, or its class's."""
    if overrides and status in overrides:
        return overrides[status]
    if status in STATUS_TEXT:
        return STATUS_TEXT[status]
    if 300 <= status < 400:
        return (
            "unexpected redirect",
            "set COGNIGY_BASE_URL to the API's final URL (redirects are not followed)",
        )
    if status >= 500:
        return (
            "the training service failed",
            "a problem on the service side; re-run later and quote the traceId to support",
        )
    return ("unexpected HTTP status", "see the detail; quote the traceId to support")


def scrub_body(text: str, redactor: Redactor) -> str:
    """A response body safe to keep: secret-looking JSON fields masked, redacted, trimmed
    to the one bound of service text."""
    cut = max(0, len(text) - _SCRUB_WINDOW)
    if cut:
        # Only the start is kept; redacting all of a huge body would cost its size again.
        # A secret that starts inside the kept part lies wholly inside the window.
        text = text[:_SCRUB_WINDOW]
    try:
        # Shown, never computed with: a NaN stays the word it was, not an error.
        parsed = loads_lenient(text)
        cleaned = json.dumps(_mask_secret_fields(parsed), ensure_ascii=False, allow_nan=False)
    except ValueError:
        cleaned = text
    return service_text(cleaned, redactor, cut_before=cut)


def _mask_secret_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: MASK if _SECRET_KEY.search(str(k)) and isinstance(v, str) else _mask_secret_fields(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_secret_fields(v) for v in value]
    return value


def problem_fields(response: HttpResponse) -> dict[str, Any]:
    """An error body's fields (RFC 7807, OAuth's), or {} when it is not a JSON object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem_detail(problem: Mapping[str, Any]) -> str | None:
    detail = problem.get("detail")
    parts = [detail] if isinstance(detail, str) and detail else []
    errors = problem.get("errors")
    if isinstance(errors, list):
        for item in errors[:10]:
            if isinstance(item, dict):
                parts.append(f"{item.get('field', '?')}: {item.get('message', '')}")
    return "; ".join(parts) or None


def _trace_id(problem: Mapping[str, Any], response: HttpResponse) -> str | None:
    trace = problem.get("traceId")
    if isinstance(trace, str) and trace:
        return trace
    headers = {k.lower(): v for k, v in response.headers.items()}
    return headers.get("x-trace-id") or headers.get("x-request-id")


E = TypeVar("E", bound=ApiError)


@overload
def error_from_response(
    response: HttpResponse,
    redactor: Redactor,
    *,
    message: str | None = None,
    hint: str | None = None,
    texts: StatusTexts | None = None,
) -> ApiError: ...


@overload
def error_from_response(
    response: HttpResponse,
    redactor: Redactor,
    *,
    message: str | None = None,
    hint: str | None = None,
    texts: StatusTexts | None = None,
    error_type: type[E],
) -> E: ...


def error_from_response(
    response: HttpResponse,
    redactor: Redactor,
    *,
    message: str | None = None,
    hint: str | None = None,
    texts: StatusTexts | None = None,
    error_type: type[ApiError] = ApiError,
) -> ApiError:
    """The typed error for a final non-2xx response: status, RFC 7807 fields, traceId.

    `message` and `hint` replace the table's words for this one error; `texts` are a
    backend's overrides of the table.
    """
    default_message, default_hint = status_text(response.status, texts)
    problem = problem_fields(response)
    title = problem.get("title") if isinstance(problem.get("title"), str) else None
    detail = _problem_detail(problem)
    text = message or default_message
    if response.attempts > 1:
        text += f" (after {response.attempts} attempts)"
    if response.refused_wait is not None and response.wait_limit is not None:
        text += (
            f"; it asked to wait {response.refused_wait:.0f} s before trying again, more "
            f"than the {response.wait_limit:.0f} s ci-trainer waits (the wait was refused)"
        )
    elif response.retry_after is not None and response.status in RETRY_STATUSES:
        text += f"; it asked to wait {response.retry_after:.0f} s before trying again"
    if 300 <= response.status < 400 and response.headers.get("Location"):
        text += f" to {service_text(response.headers['Location'])}"
    return error_type(
        call=response.call.label,
        message_text=redactor(text),
        status=response.status,
        # Service text, each bounded once here: every copy of the error stays small.
        title=optional_service_text(title, redactor),
        detail=optional_service_text(detail, redactor),
        trace_id=optional_service_text(_trace_id(problem, response), redactor),
        body=scrub_body(response.text, redactor) if response.content else None,
        hint_text=hint or default_hint,
        extra={"attempts": response.attempts},
    )

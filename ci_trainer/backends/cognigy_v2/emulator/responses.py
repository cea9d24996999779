"""The v2 emulator's wire details: JSON and HAL bodies, RFC 7807 and OAuth-style errors,
injected faults, request arguments and page cursors."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from ci_trainer.backends.cognigy_v2.emulator.model import Flow, Locale
from ci_trainer.backends.cognigy_v2.emulator.problems import RateLimited, V2Problem


@dataclass
class HttpFault:
    operation: str
    status: int
    retry_after: str | None = None
    # or "oauth"; "applied": the work is done, then the fault; "applied-slow": the work
    # is done, then the fault after `delay` seconds (a client's read timeout ends first);
    # "applied-garbled": the work is done, then `status` (a 2xx) with a body that is not
    # JSON (a proxy's page, a truncated answer): accepted, but unreadable; "garbled": the
    # same answer without the work (the body says nothing either way)
    style: str = "problem"
    delay: float = 0.0


def flow_body(flow: Flow, locale: Locale) -> dict[str, Any]:
    group = flow.groups.get(locale.reference_id)
    return {
        "_id": flow.id,
        "referenceId": flow.reference_id,
        "name": flow.name,
        "description": "",
        "localeReference": locale.id,
        "isTrainingOutOfDate": group.out_of_date if group else True,
        "attachedFlows": [],
        "attachedLexicons": [],
    }


def flow_settings(flow: Flow) -> dict[str, Any]:
    """The flow's settings (`GET /flows/{id}/settings`): the parts the client reads,
    with a few neighbours of the documented shape."""
    body: dict[str, Any] = {
        "_id": flow.id,
        "flowIntentMappingOrder": "joint",
        "useAttachedFlowThresholds": False,
        "learnNewExampleSentences": False,
        "yesNoLogic": "yesNoIntents",
        "localeSettings": [],
    }
    if flow.intent_threshold is not None:
        body["intentThreshold"] = dict(flow.intent_threshold)
    return body


def json_response(body: Any, status: int = 200, *, hal: bool = False) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/hal+json" if hal else "application/json",
    )


def problem_response(request: Request, problem: V2Problem) -> Response:
    body = {
        "type": _TITLES.get(problem.status, "Error"),
        "title": _TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
        "code": problem.code,
        "traceId": f"api--{uuid.uuid4()}",
        "details": {},
    }
    response = Response(
        json.dumps(body), status=problem.status, mimetype="application/problem+json"
    )
    if isinstance(problem, RateLimited):
        response.headers["Retry-After"] = str(problem.wait)
    return response


def oauth(status: int, error: str, description: str) -> Response:
    return Response(
        json.dumps({"error": error, "error_description": description}),
        status=status,
        mimetype="application/json",
    )


def fault_response(request: Request, fault: HttpFault) -> Response:
    if fault.style in ("garbled", "applied-garbled"):
        return Response("<html>accepted", status=fault.status, content_type="text/html")
    if fault.style == "oauth":
        response = oauth(fault.status, "invalid_token", "the token is not valid (injected)")
    else:
        response = problem_response(
            request, V2Problem(fault.status, "injected fault", fault.status)
        )
    if fault.retry_after is not None:
        response.headers["Retry-After"] = fault.retry_after
    return response


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise V2Problem(400, "Validation failed: the body is not JSON", 1005) from None
    if not isinstance(body, dict):
        raise V2Problem(400, "Validation failed: the body must be a JSON object", 1005)
    return body


def int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise V2Problem(400, f"{name} must be a whole number", 1005)
    return int(raw)


def required_arg(request: Request, name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise V2Problem(400, f"Validation failed: query parameter {name} is required", 1000)
    return value


def flag(request: Request, name: str) -> bool:
    return request.args.get(name, "").lower() == "true"


def encode_cursor(skip: int) -> str:
    return base64.urlsafe_b64encode(f"skip:{skip}".encode()).decode("ascii")


def decode_cursor(cursor: str) -> int:
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").split(":")
        if kind == "skip" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeError):
        pass
    raise V2Problem(400, "the next cursor is not valid", 1005)

"""The v2 emulator's HTTP surface: routes, auth, content negotiation, pages, errors.

Behaviour taken from the contract notes (docs/cognigy-v2.md):
- `X-API-Key` header or `api_key` query parameter; a missing key gets an OAuth-style
  `{error, error_description}` 401, a wrong one an RFC 7807 401 with `code`/`traceId`;
- lists are HAL (`_embedded`, `<singular>Id`, `_links.next.href`) unless the request
  accepts `application/json`, then `{items, total, nextCursor|next, previousCursor}`;
- a GET with a body is refused with 403 (as Trial does), JSON bodies over 60 kB and
  uploads over 2 MB with 413, `limit` outside 1..100 with 400;
- created tasks and read tasks have their different shapes.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ci_trainer.backends.cognigy_v2.emulator.model import Flow, Locale
from ci_trainer.backends.cognigy_v2.emulator.service import V2Problem, V2Service

MAX_JSON_BYTES = 60 * 1024
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
PREFIXES = ("/new/v2.0", "/v2.0")


@dataclass(frozen=True)
class V2Variants:
    """Where public sources disagree, which shape this emulator answers with."""

    page_cursor_key: str = "nextCursor"  # or "next" (older spec pages)
    scores_shape: str = "array"  # or "object": {"scores": [...]}
    created_task_time: str = "createdAt"  # or "lastCreatedAt"
    flow_accuracy: bool = True  # feedbackReport.info.accuracy (TS type only)
    default_page_limit: int = 25
    hal_always: bool = False  # answer lists as HAL even to `Accept: application/json`
    endpoint_entrypoint: bool = True  # the endpoint list shows `entrypoint` (unconfirmed)


@dataclass(frozen=True)
class RequestLog:
    method: str
    path: str
    query: dict[str, str]
    status: int
    accept: str
    has_body: bool
    content_type: str


@dataclass
class HttpFault:
    operation: str
    status: int
    retry_after: str | None = None
    style: str = "problem"  # or "oauth"


@dataclass
class _Window:
    limit: int
    seconds: float
    stamps: deque[float] = field(default_factory=deque)


def _rules() -> list[Rule]:
    routes = [
        ("/projects/<project_id>", "GET", "readProject"),
        ("/locales", "GET", "indexLocales"),
        ("/flows/<flow_id>", "GET", "readFlow"),
        ("/flows/<flow_id>/intents", "GET", "indexIntents"),
        ("/flows/<flow_id>/intents/import", "POST", "importIntents"),
        ("/flows/<flow_id>/intents/train", "POST", "trainIntents"),
        ("/tasks/<task_id>", "GET", "readTask"),
        ("/tasks/<task_id>/cancel", "POST", "cancelTask"),
        ("/projects/<project_id>/nlu/scores", "POST", "generateNluScores"),
        ("/snapshots", "GET", "indexSnapshots"),
        ("/snapshots", "POST", "createSnapshot"),
        ("/snapshots/upload", "POST", "uploadSnapshotPackage"),
        ("/snapshots/<snapshot_id>", "GET", "readSnapshot"),
        ("/snapshots/<snapshot_id>", "DELETE", "deleteSnapshot"),
        ("/snapshots/<snapshot_id>/package", "POST", "packageSnapshot"),
        ("/snapshots/<snapshot_id>/downloadlink", "POST", "composeSnapshotDownloadLink"),
        ("/snapshots/<snapshot_id>/downloadLink", "POST", "composeSnapshotDownloadLink"),
        ("/snapshots/<snapshot_id>/download", "GET", "downloadSnapshot"),
        ("/snapshots/<snapshot_id>/restore", "POST", "restoreSnapshot"),
        ("/endpoints", "GET", "indexEndpoints"),
        ("/endpoints/<endpoint_id>", "GET", "readEndpoint"),
        ("/endpoints/<endpoint_id>", "PATCH", "updateEndpoint"),
    ]
    return [
        Rule(prefix + path, methods=[method], endpoint=op)
        for prefix in PREFIXES
        for path, method, op in routes
    ]


class V2App:
    """WSGI app of the v2 emulator."""

    def __init__(
        self,
        service: V2Service,
        api_key: str,
        variants: V2Variants | None = None,
        rate_limit: tuple[int, float] | None = None,
    ) -> None:
        self.service = service
        self.api_key = api_key
        self.variants = variants or V2Variants()
        self.url_map = Map(_rules())
        self.log: list[RequestLog] = []
        self.faults: list[HttpFault] = []
        self._window = _Window(*rate_limit) if rate_limit else None
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[Request, dict[str, str]], Response]] = {
            "readProject": self._read_project,
            "indexLocales": self._index_locales,
            "readFlow": self._read_flow,
            "indexIntents": self._index_intents,
            "importIntents": self._import_intents,
            "trainIntents": self._train_intents,
            "readTask": self._read_task,
            "cancelTask": self._cancel_task,
            "generateNluScores": self._nlu_scores,
            "indexSnapshots": self._index_snapshots,
            "createSnapshot": self._create_snapshot,
            "uploadSnapshotPackage": self._upload_snapshot,
            "readSnapshot": self._read_snapshot,
            "deleteSnapshot": self._delete_snapshot,
            "packageSnapshot": self._package_snapshot,
            "composeSnapshotDownloadLink": self._download_link,
            "downloadSnapshot": self._download,
            "restoreSnapshot": self._restore_snapshot,
            "indexEndpoints": self._index_endpoints,
            "readEndpoint": self._read_endpoint,
            "updateEndpoint": self._update_endpoint,
        }

    def fail_next(
        self, operation: str, status: int, *, retry_after: str | None = None, style: str = "problem"
    ) -> None:
        """The next call of `operation` answers `status` (tests: retries, error shapes)."""
        with self._lock:
            self.faults.append(HttpFault(operation, status, retry_after, style))

    def calls(self, operation_path_part: str) -> list[RequestLog]:
        return [entry for entry in self.log if operation_path_part in entry.path]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # Closing the request closes uploaded files (werkzeug spools large ones to disk).
        with Request(environ) as request:
            return self._answer(request, environ, start_response)

    def _answer(
        self, request: Request, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        response = self._respond(request)
        with self._lock:
            self.log.append(
                RequestLog(
                    method=request.method,
                    path=request.path,
                    query=dict(request.args),
                    status=response.status_code,
                    accept=request.headers.get("Accept", ""),
                    has_body=bool(request.content_length),
                    content_type=request.headers.get("Content-Type", ""),
                )
            )
        return response(environ, start_response)

    # ------------------------------------------------------------------ dispatch

    def _respond(self, request: Request) -> Response:
        try:
            endpoint, args = self.url_map.bind_to_environ(request.environ).match()
        except NotFound:
            return _problem(
                request, V2Problem(404, f"no route {request.method} {request.path}", 1002)
            )
        except HTTPException as exc:
            status = exc.code or 400
            return _problem(request, V2Problem(status, exc.description or "not allowed", 1013))
        try:
            if endpoint != "downloadSnapshot":
                self._authenticate(request)
            self._limits(request)
            fault = self._take_fault(str(endpoint))
            if fault is not None:
                return _fault_response(request, fault)
            return self._handlers[str(endpoint)](request, dict(args))
        except V2Problem as problem:
            return _problem(request, problem)
        except _OAuthError as exc:
            return _oauth(exc.status, exc.error, exc.description)

    def _authenticate(self, request: Request) -> None:
        given = request.headers.get("X-API-Key") or request.args.get("api_key")
        if not given:
            raise _OAuthError(401, "unauthorized", "no API key: send the X-API-Key header")
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise V2Problem(401, "the API key is not valid", 401)

    def _limits(self, request: Request) -> None:
        if request.method == "GET" and request.content_length:
            raise V2Problem(403, "a GET request must not have a body", 403)
        size = request.content_length or 0
        multipart = request.mimetype == "multipart/form-data"
        if multipart and size > MAX_UPLOAD_BYTES:
            raise V2Problem(413, f"the upload exceeds {MAX_UPLOAD_BYTES} bytes", 413)
        if not multipart and size > MAX_JSON_BYTES:
            raise V2Problem(413, f"the request body exceeds {MAX_JSON_BYTES} bytes", 413)
        window = self._window
        if window is None:
            return
        with self._lock:
            now = time.monotonic()
            while window.stamps and window.stamps[0] <= now - window.seconds:
                window.stamps.popleft()
            if len(window.stamps) >= window.limit:
                wait = max(1, int(window.stamps[0] + window.seconds - now + 0.999))
                raise _RateLimited(wait)
            window.stamps.append(now)

    def _take_fault(self, operation: str) -> HttpFault | None:
        with self._lock:
            fault = next((f for f in self.faults if f.operation == operation), None)
            if fault is not None:
                self.faults.remove(fault)
            return fault

    # ------------------------------------------------------------------ rendering

    def _json_wanted(self, request: Request) -> bool:
        if self.variants.hal_always:
            return False
        return "application/json" in request.headers.get("Accept", "")

    def _page(
        self, request: Request, items: list[dict[str, Any]], kind: str, id_key: str
    ) -> Response:
        limit = _int_arg(request, "limit", self.variants.default_page_limit)
        if not 1 <= limit <= 100:
            raise V2Problem(400, "limit must be from 1 to 100", 1005)
        skip = _int_arg(request, "skip", 0)
        cursor = request.args.get("next")
        if cursor:
            skip = _decode_cursor(cursor)
        chunk = items[skip : skip + limit]
        more = skip + limit < len(items)
        if self._json_wanted(request):
            body: dict[str, Any] = {
                "items": chunk,
                "total": len(items),
                self.variants.page_cursor_key: _encode_cursor(skip + limit) if more else None,
                "previousCursor" if self.variants.page_cursor_key == "nextCursor" else "previous": (
                    _encode_cursor(max(0, skip - limit)) if skip else None
                ),
            }
            return _json(body)
        base = request.base_url
        links: dict[str, Any] = {"self": {"href": request.url}}
        if more:
            links["next"] = {"href": f"{base}?limit={limit}&skip={skip + limit}"}
        hal_items = [
            {
                **{k: v for k, v in item.items() if k != "_id"},
                id_key: item["_id"],
                "_links": {"self": {"href": f"{base}/{item['_id']}"}},
            }
            for item in chunk
        ]
        return _json(
            {"_embedded": {kind: hal_items}, "_links": links, "total": len(items)}, hal=True
        )

    def _created(self, task: Any) -> Response:
        return _json(task.render_created(self.variants.created_task_time), status=202)

    def _feedback(self, report: dict[str, Any] | None) -> dict[str, Any] | None:
        if report is None or self.variants.flow_accuracy:
            return report
        info = {k: v for k, v in report.get("info", {}).items() if k != "accuracy"}
        return {**report, "info": info}

    # ------------------------------------------------------------------ handlers

    def _read_project(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            project = self.service.project(args["project_id"])
            return _json({"_id": project.id, "name": project.name, "color": "grey"})

    def _index_locales(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            project = self.service.project(_required_arg(request, "projectId"))
            items = [loc.render() for loc in project.content.locales.values()]
        return self._page(request, items, "locales", "localeId")

    def _read_flow(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, flow, locale = self.service.flow_locale(
                args["flow_id"], request.args.get("preferredLocaleId")
            )
            body = _flow_body(flow, locale)
            if _flag(request, "includeFeedbackReport"):
                group = flow.groups.get(locale.reference_id)
                body["feedbackReport"] = self._feedback(group.flow_report if group else None)
        return _json(body)

    def _index_intents(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, flow, locale = self.service.flow_locale(
                args["flow_id"], request.args.get("preferredLocaleId")
            )
            group = flow.groups.get(locale.reference_id)
            items = []
            for intent in flow.intents.values():
                if not intent.sentences.get(locale.reference_id):
                    continue  # no localization in this locale
                item: dict[str, Any] = {
                    "_id": intent.id,
                    "referenceId": intent.reference_id,
                    "name": intent.name,
                    "description": "",
                    "tags": list(intent.tags),
                    "isRejectIntent": intent.is_reject,
                    "isDisabled": intent.is_disabled,
                    "localeReference": locale.id,
                    "parentIntentId": None,
                }
                if _flag(request, "includeFeedbackReport"):
                    item["feedbackReport"] = (
                        group.intent_reports.get(intent.name) if group else None
                    )
                items.append(item)
        return self._page(request, items, "intents", "intentId")

    def _import_intents(self, request: Request, args: dict[str, str]) -> Response:
        upload = request.files.get("file")
        locale_id = request.form.get("localeId")
        if upload is None or not locale_id:
            raise V2Problem(400, "Validation failed: 'file' and 'localeId' are required", 1000)
        task = self.service.start_import(
            args["flow_id"],
            locale_id,
            upload.filename or "intents.txt",
            upload.read(),
            request.form.get("mode", "overwrite"),
        )
        return self._created(task)

    def _train_intents(self, request: Request, args: dict[str, str]) -> Response:
        body = _body(request)
        task = self.service.start_training(
            args["flow_id"], body.get("localeId"), str(body.get("mode", "full"))
        )
        return self._created(task)

    def _read_task(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            return _json(self.service.task(args["task_id"]).render_read())

    def _cancel_task(self, request: Request, args: dict[str, str]) -> Response:
        self.service.cancel_task(args["task_id"])
        return Response(status=204)

    def _nlu_scores(self, request: Request, args: dict[str, str]) -> Response:
        body = _body(request)
        sentence, flow_ref, locale_ref = (
            body.get("sentence"),
            body.get("flowReferenceId"),
            body.get("localeReferenceId"),
        )
        if not all(isinstance(v, str) and v for v in (sentence, flow_ref, locale_ref)):
            raise V2Problem(
                400, "Validation failed: sentence, flowReferenceId, localeReferenceId", 1000
            )
        scores = self.service.scores(
            args["project_id"], str(sentence), str(flow_ref), str(locale_ref)
        )
        return _json({"scores": scores} if self.variants.scores_shape == "object" else scores)

    def _index_snapshots(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            project = self.service.project(_required_arg(request, "projectId"))
            items = [
                s.render() for s in sorted(project.snapshots.values(), key=lambda s: s.created_at)
            ]
        return self._page(request, items, "snapshots", "snapshotId")

    def _create_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        body = _body(request)
        project_id, name = body.get("projectId"), body.get("name")
        if not isinstance(project_id, str) or not isinstance(name, str) or not name:
            raise V2Problem(400, "Validation failed: projectId and name are required", 1000)
        return self._created(
            self.service.start_snapshot(project_id, name, str(body.get("description", "")))
        )

    def _read_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, snap = self.service.snapshot(args["snapshot_id"])
            return _json(snap.render())

    def _delete_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        return self._created(self.service.delete_snapshot(args["snapshot_id"]))

    def _package_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        return self._created(self.service.start_package(args["snapshot_id"]))

    def _download_link(self, request: Request, args: dict[str, str]) -> Response:
        token = self.service.download_token(args["snapshot_id"])
        link = f"{request.host_url}new/v2.0/snapshots/{args['snapshot_id']}/download?token={token}"
        return _json({"downloadLink": link})

    def _download(self, request: Request, args: dict[str, str]) -> Response:
        content = self.service.package_bytes(request.args.get("token", ""))
        return Response(content, status=200, mimetype="application/octet-stream")

    def _upload_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        upload = request.files.get("file")
        project_id = request.form.get("projectId")
        if upload is None or not project_id:
            raise V2Problem(400, "Validation failed: 'file' and 'projectId' are required", 1000)
        return self._created(self.service.start_upload(project_id, upload.read()))

    def _restore_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        body = _body(request) if request.content_length else {}
        project_id = body.get("projectId")
        return self._created(
            self.service.start_restore(
                args["snapshot_id"], project_id if isinstance(project_id, str) else None
            )
        )

    def _index_endpoints(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            project = self.service.project(_required_arg(request, "projectId"))
            items = [e.render() for e in project.endpoints.values()]
        if not self.variants.endpoint_entrypoint:
            items = [{k: v for k, v in item.items() if k != "entrypoint"} for item in items]
        return self._page(request, items, "endpoints", "endpointId")

    def _read_endpoint(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, endpoint = self.service.endpoint(args["endpoint_id"])
            return _json(endpoint.render())

    def _update_endpoint(self, request: Request, args: dict[str, str]) -> Response:
        # PATCH answers with an empty body (the contract: "empty" for updates).
        self.service.update_endpoint(args["endpoint_id"], _body(request))
        return Response(status=204)


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class _RateLimited(V2Problem):
    def __init__(self, wait: int) -> None:
        super().__init__(429, f"too many requests; retry in {wait} s", 429)
        self.wait = wait


def _flow_body(flow: Flow, locale: Locale) -> dict[str, Any]:
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


def _json(body: Any, status: int = 200, *, hal: bool = False) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/hal+json" if hal else "application/json",
    )


def _problem(request: Request, problem: V2Problem) -> Response:
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
    if isinstance(problem, _RateLimited):
        response.headers["Retry-After"] = str(problem.wait)
    return response


def _oauth(status: int, error: str, description: str) -> Response:
    return Response(
        json.dumps({"error": error, "error_description": description}),
        status=status,
        mimetype="application/json",
    )


def _fault_response(request: Request, fault: HttpFault) -> Response:
    if fault.style == "oauth":
        response = _oauth(fault.status, "invalid_token", "the token is not valid (injected)")
    else:
        response = _problem(request, V2Problem(fault.status, "injected fault", fault.status))
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


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise V2Problem(400, "Validation failed: the body is not JSON", 1005) from None
    if not isinstance(body, dict):
        raise V2Problem(400, "Validation failed: the body must be a JSON object", 1005)
    return body


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise V2Problem(400, f"{name} must be a whole number", 1005)
    return int(raw)


def _required_arg(request: Request, name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise V2Problem(400, f"Validation failed: query parameter {name} is required", 1000)
    return value


def _flag(request: Request, name: str) -> bool:
    return request.args.get(name, "").lower() == "true"


def _encode_cursor(skip: int) -> str:
    return base64.urlsafe_b64encode(f"skip:{skip}".encode()).decode("ascii")


def _decode_cursor(cursor: str) -> int:
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").split(":")
        if kind == "skip" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeError):
        pass
    raise V2Problem(400, "the next cursor is not valid", 1005)

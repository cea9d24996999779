"""The v2 emulator's HTTP surface: routes, auth, content negotiation, pages, errors.

Behaviour taken from the contract notes (docs/cognigy-v2.md):
- `X-API-Key` header or `api_key` query parameter, or an OAuth2 token from
  `<host>/auth/oauth2/token` (`oauth.py`); missing credentials get an OAuth-style
  `{error, error_description}` 401, a wrong key an RFC 7807 401 with `code`/`traceId`;
- routes live under `/new/v2.0` and `/v2.0` only: `/openapi` (the docs' reference page)
  is no path prefix, so `<host>/openapi/new/v2.0/...` is a 404 as on a tenant;
- lists are HAL (`_embedded`, `<singular>Id`, `_links.next.href`) unless the request
  accepts `application/json`, then `{items, total, nextCursor|next, previousCursor}`;
- a GET with a body is refused with 403 (as Trial does), JSON bodies over 60 kB,
  intent files over 2 MB and snapshot packages over 256 MB (C15) with 413, `limit`
  outside 1..100 with 400;
- the endpoint list has no `entrypoint` (C5; `GET /endpoints/{id}` has it), a snapshot
  delete is a Task (C4), an upload shows in the list a few reads late (C7);
- created tasks and read tasks have their different shapes.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ci_trainer.backends.cognigy_v2.emulator.exports import IntentExports
from ci_trainer.backends.cognigy_v2.emulator.intents import intent_item, listed_intents
from ci_trainer.backends.cognigy_v2.emulator.oauth import TOKEN_PATH, TokenIssuer
from ci_trainer.backends.cognigy_v2.emulator.problems import OAuthError, RateLimited, V2Problem
from ci_trainer.backends.cognigy_v2.emulator.responses import (
    HttpFault,
    decode_cursor,
    encode_cursor,
    fault_response,
    flag,
    flow_body,
    flow_settings,
    int_arg,
    json_body,
    json_response,
    oauth,
    problem_response,
    required_arg,
)
from ci_trainer.backends.cognigy_v2.emulator.service import V2Service
from ci_trainer.backends.cognigy_v2.emulator.variants import V2Variants as V2Variants
from ci_trainer.emulator.ratelimit import SlidingWindow
from ci_trainer.emulator.requestlog import RequestLog, RequestRecord
from ci_trainer.emulator.routing import url_map

MAX_JSON_BYTES = 60 * 1024
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # intent files (C15)
MAX_SNAPSHOT_UPLOAD_BYTES = 256 * 1024 * 1024  # snapshot packages (C15)
PREFIXES = ("/new/v2.0", "/v2.0")
_LINKS = frozenset({"downloadSnapshot", "downloadIntentsExport"})


def _rules() -> list[Rule]:
    routes = [
        ("/projects/<project_id>", "GET", "readProject"),
        ("/locales", "GET", "indexLocales"),
        ("/flows/<flow_id>", "GET", "readFlow"),
        ("/flows/<flow_id>/settings", "GET", "readFlowSettings"),
        ("/flows/<flow_id>/intents", "GET", "indexIntents"),
        ("/flows/<flow_id>/intents/import", "POST", "importIntents"),
        ("/flows/<flow_id>/intents/export", "POST", "exportIntents"),
        ("/intents/exports/<token>", "GET", "downloadIntentsExport"),
        ("/flows/<flow_id>/intents/train", "POST", "trainIntents"),
        ("/tasks", "GET", "indexTasks"),
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
        ("/snapshots/<snapshot_id>/resources", "GET", "indexResourcesInSnapshot"),
        ("/endpoints", "GET", "indexEndpoints"),
        ("/endpoints/<endpoint_id>", "GET", "readEndpoint"),
        ("/endpoints/<endpoint_id>", "PATCH", "updateEndpoint"),
    ]
    return [
        Rule(TOKEN_PATH, methods=["POST"], endpoint="issueOAuth2Token"),
        *(
            Rule(prefix + path, methods=[method], endpoint=op)
            for prefix in PREFIXES
            for path, method, op in routes
        ),
    ]


class V2App:
    """WSGI app of the v2 emulator."""

    def __init__(
        self,
        service: V2Service,
        api_key: str,
        variants: V2Variants | None = None,
        rate_limit: tuple[int, float] | None = None,
        tokens: TokenIssuer | None = None,
    ) -> None:
        self.service = service
        self.api_key = api_key
        self.tokens = tokens
        self.variants = variants or V2Variants()
        self.url_map = url_map(_rules())
        self.log = RequestLog()
        self.faults: list[HttpFault] = []
        self._window = SlidingWindow(*rate_limit) if rate_limit else None
        self._lock = threading.Lock()
        exports = IntentExports(service, self.variants.intents_export)
        self._handlers: dict[str, Callable[[Request, dict[str, str]], Response]] = {
            "readProject": self._read_project,
            "indexLocales": self._index_locales,
            "readFlow": self._read_flow,
            "readFlowSettings": self._read_flow_settings,
            "indexIntents": self._index_intents,
            "importIntents": self._import_intents,
            "exportIntents": exports.export,
            "downloadIntentsExport": exports.download,
            "trainIntents": self._train_intents,
            "indexTasks": self._index_tasks,
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
            "indexResourcesInSnapshot": self._index_resources,
            "indexEndpoints": self._index_endpoints,
            "readEndpoint": self._read_endpoint,
            "updateEndpoint": self._update_endpoint,
        }

    def fail_next(
        self,
        operation: str,
        status: int,
        *,
        retry_after: str | None = None,
        style: str = "problem",
        delay: float = 0.0,
    ) -> None:
        """The next call of `operation` answers `status` (tests: retries, error shapes).

        `style="applied"` does the call's work first and then answers `status`: the 502
        of a gateway that lost the service's answer to a write it applied (C1).
        `style="applied-slow"` does the work and answers only after `delay` seconds: a
        client whose read timeout is shorter gives up on a write that was applied."""
        with self._lock:
            self.faults.append(HttpFault(operation, status, retry_after, style, delay))

    def calls(self, operation_path_part: str) -> list[RequestRecord]:
        return self.log.with_path_part(operation_path_part)

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
        self.log.add(
            RequestRecord(
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
            return problem_response(
                request, V2Problem(404, f"no route {request.method} {request.path}", 1002)
            )
        except HTTPException as exc:
            status = exc.code or 400
            return problem_response(
                request, V2Problem(status, exc.description or "not allowed", 1013)
            )
        try:
            if endpoint == "issueOAuth2Token":
                return self._issue_token(request)
            if endpoint not in _LINKS:  # a download link is its own credential
                self._authenticate(request)
            self._limits(request, str(endpoint))
            fault = self._take_fault(str(endpoint))
            if fault is not None and fault.style.startswith("applied"):
                self._handlers[str(endpoint)](request, dict(args))
            if fault is not None and fault.style == "applied-slow":
                time.sleep(fault.delay)  # this request's thread only (a threaded server)
            if fault is not None:
                return fault_response(request, fault)
            return self._handlers[str(endpoint)](request, dict(args))
        except V2Problem as problem:
            return problem_response(request, problem)
        except OAuthError as exc:
            return oauth(exc.status, exc.error, exc.description)

    def _issue_token(self, request: Request) -> Response:
        if self.tokens is None:
            raise V2Problem(404, "this installation has no OAuth2 client configured", 1002)
        return self.tokens.issue(request)

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("Authorization")
        if authorization and self.tokens is not None:
            self.tokens.check(authorization)
            return
        given = request.headers.get("X-API-Key") or request.args.get("api_key")
        if not given:
            raise OAuthError(401, "unauthorized", "no API key: send the X-API-Key header")
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise V2Problem(401, "the API key is not valid", 401)

    def _limits(self, request: Request, operation: str) -> None:
        if request.method == "GET" and request.content_length:
            raise V2Problem(403, "a GET request must not have a body", 403)
        size = request.content_length or 0
        multipart = request.mimetype == "multipart/form-data"
        cap = (
            MAX_SNAPSHOT_UPLOAD_BYTES if operation == "uploadSnapshotPackage" else MAX_UPLOAD_BYTES
        )
        if multipart and size > cap:
            raise V2Problem(413, f"the upload exceeds {cap} bytes", 413)
        if not multipart and size > MAX_JSON_BYTES:
            raise V2Problem(413, f"the request body exceeds {MAX_JSON_BYTES} bytes", 413)
        wait = self._window.take("") if self._window is not None else 0.0
        if wait > 0:
            raise RateLimited(max(1, int(wait + 0.999)))

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
        limit = int_arg(request, "limit", self.variants.default_page_limit)
        if not 1 <= limit <= 100:
            raise V2Problem(400, "limit must be from 1 to 100", 1005)
        skip = int_arg(request, "skip", 0)
        cursor = request.args.get("next")
        if cursor:
            skip = decode_cursor(cursor)
        chunk = items[skip : skip + limit]
        more = skip + limit < len(items)
        if self._json_wanted(request):
            body: dict[str, Any] = {
                "items": chunk,
                "total": len(items),
                self.variants.page_cursor_key: encode_cursor(skip + limit) if more else None,
                "previousCursor" if self.variants.page_cursor_key == "nextCursor" else "previous": (
                    encode_cursor(max(0, skip - limit)) if skip else None
                ),
            }
            return json_response(body)
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
        return json_response(
            {"_embedded": {kind: hal_items}, "_links": links, "total": len(items)}, hal=True
        )

    def _created(self, task: Any) -> Response:
        return json_response(task.render_created(self.variants.created_task_time), status=202)

    def _feedback(self, report: dict[str, Any] | None) -> dict[str, Any] | None:
        if report is None or self.variants.flow_accuracy:
            return report
        info = {k: v for k, v in report.get("info", {}).items() if k != "accuracy"}
        return {**report, "info": info}

    # ------------------------------------------------------------------ handlers

    def _read_project(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            project = self.service.project(args["project_id"])
            return json_response({"_id": project.id, "name": project.name, "color": "grey"})

    def _index_locales(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            project = self.service.project(required_arg(request, "projectId"))
            items = [loc.render() for loc in project.content.locales.values()]
        return self._page(request, items, "locales", "localeId")

    def _read_flow(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, flow, locale = self.service.flow_locale(
                args["flow_id"], request.args.get("preferredLocaleId")
            )
            body = flow_body(flow, locale)
            if flag(request, "includeFeedbackReport"):
                group = flow.groups.get(locale.reference_id)
                body["feedbackReport"] = self._feedback(group.flow_report if group else None)
        return json_response(body)

    def _read_flow_settings(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, flow = self.service.flow(args["flow_id"])
            return json_response(flow_settings(flow))

    def _index_intents(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, flow, locale = self.service.flow_locale(
                args["flow_id"], request.args.get("preferredLocaleId")
            )
            group = flow.groups.get(locale.reference_id)
            items = []
            for intent in listed_intents(flow, locale, flag(request, "includeChildren")):
                item = intent_item(flow, intent, locale)
                if flag(request, "includeFeedbackReport"):
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
        body = json_body(request)
        task = self.service.start_training(
            args["flow_id"], body.get("localeId"), str(body.get("mode", "full"))
        )
        return self._created(task)

    def _index_tasks(self, request: Request, args: dict[str, str]) -> Response:
        project_id = required_arg(request, "projectId")
        with self.service.lock:
            self.service.project(project_id)
            tasks = [t for t in self.service.tasks.values() if t.project_id == project_id]
            # Newest first; the API documents no order, so the client sorts for itself.
            tasks.sort(key=lambda t: t.created_at, reverse=True)
            items = [t.render_read() for t in tasks]
        return self._page(request, items, "tasks", "taskId")

    def _read_task(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            return json_response(self.service.task(args["task_id"]).render_read())

    def _cancel_task(self, request: Request, args: dict[str, str]) -> Response:
        self.service.cancel_task(args["task_id"])
        return Response(status=204)

    def _nlu_scores(self, request: Request, args: dict[str, str]) -> Response:
        body = json_body(request)
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
        return json_response(
            {"scores": scores} if self.variants.scores_shape == "object" else scores
        )

    def _index_snapshots(self, request: Request, args: dict[str, str]) -> Response:
        listed = self.service.listed_snapshots(required_arg(request, "projectId"))
        return self._page(request, [s.render() for s in listed], "snapshots", "snapshotId")

    def _index_resources(self, request: Request, args: dict[str, str]) -> Response:
        items = self.service.snapshot_resources(
            args["snapshot_id"], required_arg(request, "resourceType")
        )
        return self._page(request, items, "resources", "resourceId")

    def _create_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        body = json_body(request)
        project_id, name = body.get("projectId"), body.get("name")
        if not isinstance(project_id, str) or not isinstance(name, str) or not name:
            raise V2Problem(400, "Validation failed: projectId and name are required", 1000)
        return self._created(
            self.service.start_snapshot(project_id, name, str(body.get("description", "")))
        )

    def _read_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, snap = self.service.snapshot(args["snapshot_id"])
            return json_response(snap.render())

    def _delete_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        return self._created(self.service.delete_snapshot(args["snapshot_id"]))

    def _package_snapshot(self, request: Request, args: dict[str, str]) -> Response:
        return self._created(self.service.start_package(args["snapshot_id"]))

    def _download_link(self, request: Request, args: dict[str, str]) -> Response:
        token = self.service.download_token(args["snapshot_id"])
        link = f"{request.host_url}new/v2.0/snapshots/{args['snapshot_id']}/download?token={token}"
        return json_response({"downloadLink": link})

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
        body = json_body(request) if request.content_length else {}
        project_id = body.get("projectId")
        if not isinstance(project_id, str) and not self.variants.restore_without_project:
            raise V2Problem(400, "Validation failed: body property projectId is required", 1000)
        return self._created(
            self.service.start_restore(
                args["snapshot_id"], project_id if isinstance(project_id, str) else None
            )
        )

    def _index_endpoints(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            project = self.service.project(required_arg(request, "projectId"))
            items = [e.render() for e in project.endpoints.values()]
        if not self.variants.endpoint_entrypoint:
            items = [{k: v for k, v in item.items() if k != "entrypoint"} for item in items]
        return self._page(request, items, "endpoints", "endpointId")

    def _read_endpoint(self, request: Request, args: dict[str, str]) -> Response:
        with self.service.lock:
            _, endpoint = self.service.endpoint(args["endpoint_id"])
            return json_response(endpoint.render())

    def _update_endpoint(self, request: Request, args: dict[str, str]) -> Response:
        # PATCH answers with an empty body (the contract: "empty" for updates).
        self.service.update_endpoint(args["endpoint_id"], json_body(request))
        return Response(status=204)

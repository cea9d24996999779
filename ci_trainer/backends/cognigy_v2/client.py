"""The Cognigy.AI REST API v2.0 client: one method per endpoint the v2 backend uses.

Every request carries its credentials (`X-API-Key`, or an OAuth2 token: `auth.py`) and
`Accept: application/json` (without it list answers come back as HAL), never a body on
GET, and goes through the one HTTP policy (`ci_trainer.http.policy`) with 408, 429 and
5xx (but 501 and 511) retried as Cognigy's own client does, honouring `Retry-After`, but
only for reads (C1): a `POST` or `PATCH` goes again only when it provably never reached
the service (no connection, or a 429). A write that may have been applied is reconciled
by its caller (`writes.py`), never re-sent blindly.
The run's `RequestBudget` counts every attempt and, with its rate limit, keeps the run
well under the tenant's limit. Lists are read page by page (`limit`/`skip`, or the
`next` cursor).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from ci_trainer.backends.cognigy_v2.auth import ApiKeyAuth, ClientSecret, OAuth2Auth, V2Auth
from ci_trainer.backends.cognigy_v2.downloads import (
    MIN_SNAPSHOT_BYTES,
    download_policy,
    fetch_elsewhere,
    packaging_policy,
)
from ci_trainer.backends.cognigy_v2.ids import path_id as _id
from ci_trainer.backends.cognigy_v2.wire import (
    Page,
    Score,
    Task,
    contract_error,
    object_of,
    parse_page,
    parse_scores,
    parse_task,
    parse_task_item,
    v2_error,
)
from ci_trainer.errors import ApiError, ContractError, Interrupted
from ci_trainer.http.base_url import V2BaseUrl, v2_base_url
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.client import Call, HttpClient, HttpResponse
from ci_trainer.http.policy import RetryMode, RetryPolicy
from ci_trainer.http.rate_limit import DEFAULT_WINDOW_LIMIT
from ci_trainer.redact import Redactor

API_PREFIX = "/new/v2.0"
PAGE_LIMIT = 100  # the API's largest page
MAX_PAGES = 100  # 10,000 items: more than any documented limit (2,500 intents per flow)
V2_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
DEFAULT_RUN_LIMIT = 5000  # requests per run when the caller gives no budget


def v2_policy(base: RetryPolicy | None = None) -> RetryPolicy:
    """The HTTP policy with v2's retry statuses (Cognigy's client retries 408 and 5xx)."""
    return dataclasses.replace(base or RetryPolicy(), retry_statuses=V2_RETRY_STATUSES)


def split_base_url(base_url: str, setting: str = "COGNIGY_BASE_URL") -> V2BaseUrl:
    """The origin and API prefix of a base URL as users paste it (C2): `<host>`,
    `<host>/new/v2.0`, `<host>/v2.0`, or `<host>/openapi` (the docs' reference page,
    stripped with a notice). `setting` names where it came from, for the messages."""
    return v2_base_url(base_url, setting)


class CognigyV2Client:
    """Talks to one Cognigy.AI installation for one run. Close it (or use `with`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        redactor: Redactor,
        client: ClientSecret | None = None,
        base_url_setting: str = "COGNIGY_BASE_URL",
        stop: threading.Event | None = None,
        policy: RetryPolicy | None = None,
        requests: RequestBudget | None = None,
        wait: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if bool(api_key) == (client is not None):
            msg = "give an API key or OAuth2 client credentials, exactly one of them"
            raise ValueError(msg)
        self.redactor = redactor
        self._stop = stop or threading.Event()
        where = split_base_url(base_url, base_url_setting)
        root, self.prefix = where.origin, where.prefix
        # What the user should hear once about how the service is reached.
        self.notices: list[str] = [where.notice] if where.notice else []
        self._policy = v2_policy(policy)
        self._wait = wait
        self._rng = rng
        self._now = now
        # The run's one budget: every attempt of every call, retries included.
        self.requests = requests or RequestBudget(
            run_limit=DEFAULT_RUN_LIMIT,
            retry_limit=self._policy.run_retry_budget,
            window_limit=DEFAULT_WINDOW_LIMIT,
            wait=wait or self._stop.wait,
        )
        self.http = HttpClient(
            root,
            redactor=redactor,
            stop=self._stop,
            policy=self._policy,
            budget=self.requests,
            wait=wait,
            rng=rng,
            now=now,
        )
        self.auth: V2Auth = (
            OAuth2Auth(self.http, client, redactor=redactor)
            if client is not None
            else ApiKeyAuth(api_key or "", redactor)
        )

    def __enter__(self) -> CognigyV2Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ transport

    def _authenticated(self, call: Call, **request: Any) -> HttpResponse:
        """`call` with the run's credentials; after a 401, once more with renewed ones
        (a token may expire or be revoked mid-run; the 401 means nothing was done)."""
        sent = self.auth.headers()
        headers = {**sent, "Accept": "application/json"}
        response = self.http.send(call, headers=headers, **request)
        if response.status == 401:
            fresh = self.auth.renew(sent)
            if fresh is not None:
                headers = {**fresh, "Accept": "application/json"}
                response = self.http.send(call, headers=headers, **request)
        return response

    def _failed(self, response: HttpResponse) -> ApiError:
        error = v2_error(response, self.redactor)
        return self.auth.explain(error) if response.status in (401, 403) else error

    def send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        retry: RetryMode | None = None,
        policy: RetryPolicy | None = None,
    ) -> HttpResponse:
        """One call: budget, headers, policy (the client's, or `policy` for this call); a
        final non-2xx status raises. `retry` defaults by method as Cognigy's client does
        (C1): reads, `PUT` and `DELETE` are retried; `POST` and `PATCH` only when unsent."""
        if method == "GET" and (json_body is not None or form or files):
            msg = "a GET must not carry a body (Cognigy answers 403)"
            raise ValueError(msg)
        if retry is None:
            retry = RetryMode.CONNECT_ONLY if method in ("POST", "PATCH") else RetryMode.SAFE
        full = self.prefix + path + (f"?{urlencode(query)}" if query else "")
        call = Call(operation, method, full)
        response = self._authenticated(
            call, retry=retry, json_body=json_body, form=form, files=files, policy=policy
        )
        if not response.ok:
            raise self._failed(response)
        return response

    def pages(
        self,
        operation: str,
        path: str,
        kind: str,
        id_key: str,
        query: Mapping[str, str | int] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page (cursor when given, else skip)."""
        base = dict(query or {})
        request: dict[str, str | int] = {**base, "limit": PAGE_LIMIT, "skip": 0}
        seen_cursors: set[str] = set()
        fetched = 0
        for _ in range(MAX_PAGES):
            response = self.send(operation, "GET", path, query=request)
            page = parse_page(response, self.redactor, kind, id_key)
            yield from page.items
            fetched += len(page.items)
            nxt = self._next_request(page, base, fetched, seen_cursors, response)
            if nxt is None:
                return
            request = nxt
        raise ContractError(
            call=operation,
            message_text=f"the list did not end after {MAX_PAGES} pages",
            hint_text="the service keeps returning a next page; quote the traceId to support",
        )

    def _next_request(
        self,
        page: Page,
        base: dict[str, str | int],
        fetched: int,
        seen: set[str],
        response: HttpResponse,
    ) -> dict[str, str | int] | None:
        if not page.items:
            return None
        if page.next_cursor:
            if page.next_cursor in seen:
                raise contract_error(response, self.redactor, "the list repeated a next cursor")
            seen.add(page.next_cursor)
            return {**base, "limit": PAGE_LIMIT, "next": page.next_cursor}
        if page.total is not None and fetched >= page.total:
            return None
        if page.next_skip is not None:
            return {**base, "limit": PAGE_LIMIT, "skip": page.next_skip}
        if page.total is None and len(page.items) < PAGE_LIMIT:
            return None  # a short page without a total is the last one
        return {**base, "limit": PAGE_LIMIT, "skip": fetched}

    def _task(self, response: HttpResponse) -> Task:
        return parse_task(response, self.redactor)

    # ------------------------------------------------------------------ discovery

    def read_project(self, project_id: str) -> dict[str, Any]:
        response = self.send("readProject", "GET", f"/projects/{_id(project_id)}")
        return object_of(response, self.redactor)

    def list_locales(self, project_id: str) -> list[dict[str, Any]]:
        return list(
            self.pages("indexLocales", "/locales", "locales", "localeId", {"projectId": project_id})
        )

    def read_flow(self, flow_id: str, locale_id: str) -> dict[str, Any]:
        """The flow with the locale's Intent Analyzer report (`feedbackReport`)."""
        response = self.send(
            "readFlow",
            "GET",
            f"/flows/{_id(flow_id)}",
            query={"preferredLocaleId": locale_id, "includeFeedbackReport": "true"},
        )
        return object_of(response, self.redactor)

    def read_flow_settings(self, flow_id: str) -> dict[str, Any]:
        """The flow's settings; their `intentThreshold` is what the live bot maps by (C11)."""
        response = self.send("readFlowSettings", "GET", f"/flows/{_id(flow_id)}/settings")
        return object_of(response, self.redactor)

    def list_intents(self, flow_id: str, locale_id: str) -> list[dict[str, Any]]:
        """Every intent of the flow in the locale, each with its `feedbackReport`. Child
        intents of a hierarchy are asked for: the default of `includeChildren` is not
        documented (C13), and a child left out would drop out of the metrics."""
        query = {
            "preferredLocaleId": locale_id,
            "includeFeedbackReport": "true",
            "includeChildren": "true",
        }
        path = f"/flows/{_id(flow_id)}/intents"
        return list(self.pages("indexIntents", path, "intents", "intentId", query))

    # ------------------------------------------------------------------ intents and training

    def import_intents(
        self, flow_id: str, locale_id: str, filename: str, content: bytes, mode: str
    ) -> Task:
        media = "application/json" if filename.lower().endswith(".json") else "text/csv"
        response = self.send(
            "importIntents",
            "POST",
            f"/flows/{_id(flow_id)}/intents/import",
            form={"localeId": locale_id, "mode": mode, "flowId": flow_id},
            files={"file": (filename, content, media)},
        )
        return self._task(response)

    def train_intents(self, flow_id: str, locale_id: str, mode: str = "full") -> Task:
        response = self.send(
            "trainIntents",
            "POST",
            f"/flows/{_id(flow_id)}/intents/train",
            json_body={"localeId": locale_id, "mode": mode},
        )
        return self._task(response)

    def read_task(self, task_id: str) -> Task:
        """A Task by id. The API takes no `projectId` here (C3): a Task of an upload or a
        restore lives in the target project, and the id alone finds it."""
        return self._task(self.send("readTask", "GET", f"/tasks/{_id(task_id)}"))

    def list_tasks(self, project_id: str) -> list[Task]:
        """The project's Tasks (`indexTasks`): what a write that may have been applied
        left behind (C1)."""
        return [
            parse_task_item(item, self.redactor)
            for item in self.pages(
                "indexTasks", "/tasks", "tasks", "taskId", {"projectId": project_id}
            )
        ]

    def cancel_task(self, task_id: str) -> None:
        # Cancelling twice does no harm: the one POST that may be repeated after a 5xx.
        self.send("cancelTask", "POST", f"/tasks/{_id(task_id)}/cancel", retry=RetryMode.SAFE)

    def nlu_scores(
        self, project_id: str, sentence: str, flow_reference_id: str, locale_reference_id: str
    ) -> list[Score]:
        # Scoring a sentence changes nothing: this POST is a read, retried as one.
        response = self.send(
            "generateNluScores",
            "POST",
            f"/projects/{_id(project_id)}/nlu/scores",
            json_body={
                "sentence": sentence,
                "flowReferenceId": flow_reference_id,
                "localeReferenceId": locale_reference_id,
            },
            retry=RetryMode.SAFE,
        )
        return parse_scores(response, self.redactor)

    # ------------------------------------------------------------------ snapshots

    def list_snapshots(self, project_id: str) -> list[dict[str, Any]]:
        return list(
            self.pages(
                "indexSnapshots", "/snapshots", "snapshots", "snapshotId", {"projectId": project_id}
            )
        )

    def create_snapshot(self, project_id: str, name: str, description: str) -> Task:
        body = {"projectId": project_id, "name": name, "description": description}
        return self._task(self.send("createSnapshot", "POST", "/snapshots", json_body=body))

    def delete_snapshot(self, snapshot_id: str) -> Task:
        """A Task (C4): the snapshot is gone, and its room free, only once it is done."""
        return self._task(self.send("deleteSnapshot", "DELETE", f"/snapshots/{_id(snapshot_id)}"))

    def list_snapshot_resources(self, snapshot_id: str, resource_type: str) -> list[dict[str, Any]]:
        """What the snapshot holds of one type (`flow`, `locale`, ...), e.g. to check that
        an endpoint's flow is in it before re-pointing (C6)."""
        return list(
            self.pages(
                "indexResourcesInSnapshot",
                f"/snapshots/{_id(snapshot_id)}/resources",
                "resources",
                "resourceId",
                {"resourceType": resource_type},
            )
        )

    def package_snapshot(self, snapshot_id: str) -> Task:
        return self._task(
            self.send("packageSnapshot", "POST", f"/snapshots/{_id(snapshot_id)}/package")
        )

    def snapshot_download_link(self, snapshot_id: str) -> str:
        """The `.csnap` URL; a 409 right after packaging is retried a few times."""
        path = f"/snapshots/{_id(snapshot_id)}/downloadlink"
        # Composing a link of a packaged snapshot creates nothing: retried as a read.
        response = self.send(
            "composeSnapshotDownloadLink",
            "POST",
            path,
            policy=packaging_policy(self._policy),
            retry=RetryMode.SAFE,
        )
        link = object_of(response, self.redactor).get("downloadLink")
        if not isinstance(link, str) or not link:
            raise contract_error(response, self.redactor, "no 'downloadLink' in the answer")
        return link

    def download(
        self, link: str, *, redirects: int = 3, operation: str = "downloadSnapshot"
    ) -> bytes:
        """GET a download link; the key only to the API's own origin, redirects without it."""
        parts = urlsplit(link)
        own = urlsplit(self.http.base_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if (parts.scheme, parts.netloc) == (own.scheme, own.netloc):
            call = Call(
                operation,
                "GET",
                path[len(own.path) :] if path.startswith(own.path) else path,
            )
            response = self._authenticated(
                call, retry=RetryMode.SAFE, policy=download_policy(self._policy)
            )
        else:
            elsewhere = HttpClient(
                f"{parts.scheme}://{parts.netloc}",
                redactor=self.redactor,
                stop=self._stop,
                policy=download_policy(self._policy),
                budget=self.requests,
                wait=self._wait,
                rng=self._rng,
                now=self._now,
            )
            response = fetch_elsewhere(elsewhere, parts.scheme, parts.hostname, path, operation)
        location = response.headers.get("Location")
        if 300 <= response.status < 400 and location and redirects > 0:
            nxt = urljoin(link, location)
            return self.download(nxt, redirects=redirects - 1, operation=operation)
        if not response.ok:
            raise self._failed(response)
        return response.content

    def download_snapshot(self, snapshot_id: str) -> bytes:
        """The packaged snapshot; a tiny placeholder answer is fetched once more."""
        content = self.download(self.snapshot_download_link(snapshot_id))
        if len(content) < MIN_SNAPSHOT_BYTES:
            self._pause(2.0, "downloadSnapshot")
            content = self.download(self.snapshot_download_link(snapshot_id))
        if len(content) < MIN_SNAPSHOT_BYTES:
            raise ApiError(
                call="downloadSnapshot",
                message_text=f"the snapshot package is only {len(content)} bytes (a placeholder)",
                hint_text="the package is not ready yet; re-run the promotion in a few minutes",
            )
        return content

    def upload_snapshot(self, project_id: str, filename: str, content: bytes) -> Task:
        response = self.send(
            "uploadSnapshotPackage",
            "POST",
            "/snapshots/upload",
            form={"projectId": project_id},
            files={"file": (filename, content, "application/octet-stream")},
        )
        return self._task(response)

    def restore_snapshot(self, snapshot_id: str, project_id: str) -> Task:
        # The 2026 reference documents {projectId} as required; older clients send none.
        response = self.send(
            "restoreSnapshot",
            "POST",
            f"/snapshots/{_id(snapshot_id)}/restore",
            json_body={"projectId": project_id},
        )
        return self._task(response)

    # ------------------------------------------------------------------ endpoints

    def list_endpoints(self, project_id: str) -> list[dict[str, Any]]:
        return list(
            self.pages(
                "indexEndpoints", "/endpoints", "endpoints", "endpointId", {"projectId": project_id}
            )
        )

    def read_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        """One endpoint with its `entrypoint`, which the list leaves out (C5)."""
        return object_of(
            self.send("readEndpoint", "GET", f"/endpoints/{_id(endpoint_id)}"), self.redactor
        )

    def update_endpoint(self, endpoint_id: str, changes: Mapping[str, str]) -> None:
        """PATCH the endpoint (e.g. `entrypoint`, `flowId`, `localeId`); the body that
        comes back, if any, is ignored (the contract says it is empty)."""
        # Not re-sent on a 5xx (C1): the caller reads the endpoint back instead.
        self.send(
            "updateEndpoint", "PATCH", f"/endpoints/{_id(endpoint_id)}", json_body=dict(changes)
        )

    def _pause(self, seconds: float, label: str) -> None:
        waiter = self._wait or self._stop.wait
        if waiter(seconds):
            msg = f"cancelled while waiting to retry {label}"
            raise Interrupted(msg, hint="the runner asked the job to stop")

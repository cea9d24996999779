"""The GitHub REST calls of the pull request comment: list a pull request's issue
comments, create one, update one. Plain requests through `ci_trainer.http` (an SDK for
three calls would be a dependency for nothing).

The project's HTTP client brings what every request needs: (connect, read) timeouts, one
deadline per attempt, a size cap on every answer, no redirects (the token must not
follow one), a stop that ends a request in flight, and redacted transport errors. What
is GitHub's own is handled here:

- rate limits: a secondary limit (403 or 429) says how long to wait in `Retry-After`; a
  primary one says `x-ratelimit-remaining: 0` and when the window resets in
  `x-ratelimit-reset` (epoch seconds). A run waits for them at most
  `RATE_LIMIT_WAIT_SECONDS` in all, then gives up (the comment is a courtesy, the job's
  minutes are not);
- pagination: the `Link` header's `next`, followed only while it stays on the API's own
  host and path (the token goes with every page), and for at most `MAX_PAGES` pages;
- GitHub's error text is the service's: bounded and on one line before anyone sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from requests.utils import parse_header_links

from ci_trainer.errors import ApiError, CiTrainerError, Interrupted
from ci_trainer.http.client import Call, HttpClient, HttpResponse
from ci_trainer.http.loopback import is_loopback
from ci_trainer.http.policy import RetryMode, RetryPolicy, parse_retry_after
from ci_trainer.http.strict_json import MAX_JSON_BYTES
from ci_trainer.redact import Redactor, one_line

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
# The most a run waits, summed over its requests, for GitHub's rate limits.
RATE_LIMIT_WAIT_SECONDS = 10.0
# GitHub's advice when a secondary limit gives no Retry-After: wait at least a minute.
UNSTATED_WAIT_SECONDS = 60.0
# GitHub's own default page size: 30 comments of up to 65,536 characters each, even
# JSON-escaped at 6 bytes a character, fit in the strict JSON reader's cap.
PER_PAGE = 30
MAX_PAGES = 50  # 1,500 comments: past that the marker is not looked for any further
# Every request of one comment, rate-limit waits included, ends within this.
DEADLINE_SECONDS = 90.0
MAX_MESSAGE_CHARS = 300
CANCELLED = "the job was cancelled"

POLICY = RetryPolicy(
    connect_timeout=5.0,
    read_timeout=15.0,
    # One repeat: a GET on a 502/503/504 or a lost connection; a write only when it
    # provably never reached GitHub (a second POST would be a second comment).
    max_attempts=2,
    run_retry_budget=5,
    backoff_base=1.0,
    backoff_cap=2.0,
    # The client never waits long itself (max_wait_per_call); a rate limit's Retry-After
    # reaches `_rate_limit_wait` as GitHub sent it.
    max_retry_after=3600.0,
    max_wait_per_call=2.0,
    request_deadline=30.0,
    max_body_bytes=MAX_JSON_BYTES,
    # 429 is not here: a rate limit is GitHub's to time (below), not a backoff's.
    retry_statuses=frozenset({502, 503, 504}),
    jitter=False,
)


class GitHubError(CiTrainerError):
    """A GitHub call that did not succeed, by `kind`: forbidden, unauthorized, not-found,
    rate-limited, server, refused (another 4xx), network, deadline, too-many, unexpected,
    cancelled, config.

    `message` is GitHub's own text (bounded, one line) or what went wrong on the way."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int | None = None,
        wait: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.wait = wait  # a rate limit's asked-for wait that was refused


@dataclass(frozen=True)
class IssueComment:
    id: int
    body: str
    html_url: str | None


def check_api_url(url: str) -> str:
    """The API base URL without its trailing slash: https, or http on loopback only."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url.strip().rstrip("/")
    if parts.scheme == "http" and host and is_loopback(host):
        return url.strip().rstrip("/")
    msg = f"GITHUB_API_URL {one_line(url)[:200]!r} is not an https URL"
    raise GitHubError(msg, kind="config")


class GitHubApi:
    """The calls of one comment, under one rate-limit wait allowance and one deadline."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        stop: threading.Event | None = None,
        wait_allowance: float = RATE_LIMIT_WAIT_SECONDS,
        deadline: float = DEADLINE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = check_api_url(api_url)
        self._stop = stop or threading.Event()
        self.redactor = Redactor([token])
        self._client = HttpClient(
            self.base_url, redactor=self.redactor, stop=self._stop, policy=POLICY
        )
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": MEDIA_TYPE,
            "X-GitHub-Api-Version": API_VERSION,
        }
        self._allowance = wait_allowance
        self._ends = time.monotonic() + deadline
        self._clock = clock
        self.waited = 0.0

    def close(self) -> None:
        self._client.close()

    def issue_comments(self, repository: str, number: int) -> Iterator[IssueComment]:
        """The pull request's issue comments, oldest first, page by page."""
        path: str | None = f"{_repo_path(repository)}/issues/{number}/comments?per_page={PER_PAGE}"
        pages = 0
        while path is not None and pages < MAX_PAGES:
            response = self._call("listIssueComments", "GET", path, RetryMode.SAFE)
            pages += 1
            items = self._json(response)
            if not isinstance(items, list):
                msg = "the comment list is not a JSON array"
                raise GitHubError(msg, kind="unexpected")
            for item in items:
                yield _comment(item)
            path = self._next_page(response)
        if path is not None:
            # Not every comment was seen, so ours may exist: a new one could be a duplicate.
            msg = f"the pull request has more than {MAX_PAGES * PER_PAGE} comments"
            raise GitHubError(msg, kind="too-many")

    def create_comment(self, repository: str, number: int, body: str) -> IssueComment:
        path = f"{_repo_path(repository)}/issues/{number}/comments"
        return self._write("createIssueComment", "POST", path, body)

    def update_comment(self, repository: str, comment_id: int, body: str) -> IssueComment:
        path = f"{_repo_path(repository)}/issues/comments/{comment_id}"
        return self._write("updateIssueComment", "PATCH", path, body)

    # --- one call ---------------------------------------------------------------------

    def _write(self, operation: str, method: str, path: str, body: str) -> IssueComment:
        response = self._call(
            operation, method, path, RetryMode.CONNECT_ONLY, json_body={"body": body}
        )
        return _comment(self._json(response))

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        retry: RetryMode,
        json_body: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """One call's answer when it is a success; a rate limit is waited out within the
        allowance; anything else is a GitHubError."""
        call = Call(operation, method, path)
        while True:
            if time.monotonic() > self._ends:
                msg = f"the GitHub API did not finish within {DEADLINE_SECONDS:g} s"
                raise GitHubError(msg, kind="deadline")
            try:
                response = self._client.send(
                    call, retry=retry, headers=self._headers, json_body=json_body
                )
            except Interrupted:
                raise GitHubError(CANCELLED, kind="cancelled") from None
            except ApiError as error:
                text = "; ".join(part for part in (error.message_text, error.detail) if part)
                raise GitHubError(self.redactor(text), kind="network") from None
            if 200 <= response.status < 300:
                return response
            wait = self._rate_limit_wait(response)
            if wait is None:
                raise self._refusal(response)
            if self.waited + wait > self._allowance:
                said = _message(response)
                raise GitHubError(said, kind="rate-limited", status=response.status, wait=wait)
            self.waited += wait
            if self._stop.wait(wait):
                raise GitHubError(CANCELLED, kind="cancelled")

    def _rate_limit_wait(self, response: HttpResponse) -> float | None:
        """The seconds a rate-limit answer asks for; None when it is no rate limit."""
        if response.status not in (403, 429):
            return None
        headers = response.headers
        asked = parse_retry_after(headers.get("Retry-After"), _utc(self._clock()))
        if asked is not None:
            return asked
        if headers.get("x-ratelimit-remaining", "").strip() == "0":
            reset = headers.get("x-ratelimit-reset", "").strip()
            if reset.isascii() and reset.isdigit():
                return max(0.0, int(reset) - self._clock()) + 1.0  # +1: its second has begun
            return UNSTATED_WAIT_SECONDS
        if response.status == 429 or "rate limit" in _message(response).lower():
            return UNSTATED_WAIT_SECONDS
        return None

    def _refusal(self, response: HttpResponse) -> GitHubError:
        status = response.status
        kind = {401: "unauthorized", 403: "forbidden", 404: "not-found"}.get(status)
        if kind is None:
            kind = "server" if status >= 500 else "refused"
        return GitHubError(_message(response), kind=kind, status=status)

    def _json(self, response: HttpResponse) -> Any:
        try:
            return response.json()
        except ValueError:
            msg = f"{response.call.operation_id}: the answer is not JSON"
            raise GitHubError(msg, kind="unexpected", status=response.status) from None

    def _next_page(self, response: HttpResponse) -> str | None:
        """The path of the `next` page, when the Link header names one on this API."""
        header = response.headers.get("Link", "")
        if not header or len(header) > 8192:
            return None
        for link in parse_header_links(header):
            if link.get("rel") != "next":
                continue
            url = link.get("url", "")
            if not url.startswith(self.base_url + "/"):
                # Another host or path would get the token: the list ends here.
                msg = "the next page's link leaves the GitHub API"
                raise GitHubError(msg, kind="unexpected")
            return url[len(self.base_url) :]
        return None


def _repo_path(repository: str) -> str:
    owner, _, name = repository.partition("/")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def _comment(item: Any) -> IssueComment:
    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
        msg = "a comment in GitHub's answer has no numeric id"
        raise GitHubError(msg, kind="unexpected")
    body = item.get("body")
    url = item.get("html_url")
    return IssueComment(
        id=item["id"],
        body=body if isinstance(body, str) else "",
        html_url=url if isinstance(url, str) and url.startswith(("https://", "http://")) else None,
    )


def _message(response: HttpResponse) -> str:
    """GitHub's `message` of an error answer, bounded and on one line; else the body's start."""
    try:
        document = response.json()
    except ValueError:
        document = None
    text = document.get("message") if isinstance(document, dict) else None
    if not isinstance(text, str):
        text = response.content[:MAX_MESSAGE_CHARS].decode("utf-8", errors="replace")
    return one_line(text)[:MAX_MESSAGE_CHARS]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)

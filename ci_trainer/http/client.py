"""`HttpClient`: sends requests under the retry policy (ci_trainer.http.policy).

One `requests.Session` per client; every attempt counts against the run's
`RequestBudget` and every repeat takes one of its retries; sleeps end at once when the
run is cancelled. Each attempt has one wall-clock deadline and its answer a size cap
(ci_trainer.http.exchange, ci_trainer.http.body), and a stop ends it within a fraction
of a second. A transport failure leaves as a typed `ApiError` whose text is redacted;
any answer, whatever its status, is returned for the caller to judge.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from ci_trainer.errors import ApiError, Interrupted
from ci_trainer.http.body import ACCEPT_ENCODING, BodyDecodingError, BodyLimit, BodyTooLarge
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.exchange import DeadlineExceeded, Exchange, Stopped
from ci_trainer.http.policy import (
    ACCEPT,
    USER_AGENT,
    RetryMode,
    RetryPolicy,
    no_netrc,
    parse_retry_after,
)
from ci_trainer.http.strict_json import loads_strict
from ci_trainer.http.trust import TLS_HINT, tls_problem
from ci_trainer.redact import Redactor, neutralise_commands

log = logging.getLogger("ci_trainer.http")

# Why no answer came back; callers with their own wording (the webhook) choose by it.
FailureKind = Literal[
    "tls",
    "connect-timeout",
    "dns",
    "refused",
    "read-timeout",
    "deadline",
    "too-large",
    "undecodable",
    "connection",
    "other",
]


@dataclass(frozen=True)
class Call:
    """One request as the user should hear about it: operation, method, concrete path."""

    operation_id: str
    method: str
    path: str

    @property
    def label(self) -> str:
        return f"{self.operation_id} ({self.method} {self.path})"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    content: bytes
    attempts: int
    call: Call
    retry_after: float | None = field(default=None)
    # The wait the service asked for (or a further retry needed) when the policy's
    # waiting limits refused it, and the limit it exceeded.
    refused_wait: float | None = field(default=None)
    wait_limit: float | None = field(default=None)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as strict JSON; raises ValueError when it is not (StrictJsonError
        for duplicate keys, NaN, Infinity or an oversized body)."""
        return loads_strict(self.content)


# What one attempt produced: an answer, or the transport failure instead of one.
Outcome = HttpResponse | requests.RequestException


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class HttpClient:
    """Sends requests to one base URL under the retry policy. One per run."""

    def __init__(
        self,
        base_url: str,
        *,
        redactor: Redactor,
        stop: threading.Event | None = None,
        policy: RetryPolicy | None = None,
        budget: RequestBudget | None = None,
        wait: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.redactor = redactor
        self.policy = policy or RetryPolicy()
        self.budget = budget or RequestBudget(retry_limit=self.policy.run_retry_budget)
        self._stop = stop or threading.Event()
        self._wait = wait or self._stop.wait
        self._rng = rng or random.Random()
        self._now = now or _utcnow  # for HTTP-date Retry-After values
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers["Accept"] = ACCEPT
        # Only codings we decode ourselves, within the size cap (not br or zstd).
        self._session.headers["Accept-Encoding"] = ACCEPT_ENCODING

    def close(self) -> None:
        self._session.close()

    def send(
        self,
        call: Call,
        *,
        retry: RetryMode,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        content: bytes | None = None,
        read_timeout: float | None = None,
        on_attempt: Callable[[Outcome], None] | None = None,
        policy: RetryPolicy | None = None,
        body_limit: BodyLimit | None = None,
    ) -> HttpResponse:
        """Send `call`, retrying as `retry` allows; return the final response, any status.

        `files` (field -> (filename, content, media type)) makes a multipart body with
        `form` as its other fields; `content` sends those exact bytes. `on_attempt` hears
        every attempt's outcome; `policy` replaces the client's for this call (e.g. one
        that also repeats a status only this call may see); `body_limit` replaces the
        policy's size cap (e.g. only the start of the answer is needed). Raises ApiError
        when no response could be had, Interrupted when the run stops.
        """
        rules = policy or self.policy
        limit = body_limit or BodyLimit(rules.max_body_bytes)
        timeout = (rules.connect_timeout, read_timeout or rules.read_timeout)
        request = {
            "headers": dict(headers or {}),
            "json": json_body,
            "data": content if content is not None else form,
            "files": dict(files) if files else None,
            "timeout": timeout,
        }
        attempt, waited = 0, 0.0
        while True:
            self._raise_if_stopped(call)
            self.budget.take_request(call.label)
            attempt += 1
            outcome = self._attempt(call, request, attempt, rules, limit)
            if on_attempt is not None:
                on_attempt(outcome)
            if isinstance(outcome, requests.RequestException):
                delay = self._backoff(attempt, rules)
                if not self._may_retry_failure(outcome, retry):
                    raise self._transport_error(call, outcome, attempt, timeout)
                again, refused, _ = self._may_retry(rules, attempt, waited, delay, asked=None)
                if not again:
                    raise self._transport_error(call, outcome, attempt, timeout, refused)
                self._pause(rules, call, describe_failure(outcome), attempt, delay)
            else:
                delay = self._status_delay(rules, outcome, attempt)
                if outcome.status not in rules.retry_statuses:
                    return self._capped_wait(rules, outcome)
                # A 429 is refused before any processing: even a write may go again.
                if retry is not RetryMode.SAFE and outcome.status != 429:
                    return outcome
                asked = outcome.retry_after
                again, refused, broken = self._may_retry(rules, attempt, waited, delay, asked=asked)
                if not again:
                    return dataclasses.replace(outcome, refused_wait=refused, wait_limit=broken)
                self._pause(rules, call, f"HTTP {outcome.status}", attempt, delay)
            waited += delay

    def _attempt(
        self,
        call: Call,
        request: Mapping[str, Any],
        attempt: int,
        rules: RetryPolicy,
        limit: BodyLimit,
    ) -> Outcome:
        """One request under the deadline; a transport failure is returned, not raised, so
        that retry waits and the final error are not chained to requests' exception
        (URLs, reprs). Raises Interrupted when the run stops meanwhile."""
        exchange = Exchange(
            self._session,
            call.method,
            self.base_url + call.path,
            {**request, "allow_redirects": False, "auth": no_netrc},
            limit,
        )
        try:
            raw = exchange.wait(rules.request_deadline, self._stop, rules.stop_grace)
        except Stopped:
            self._raise_interrupted(call)
        if isinstance(raw, requests.RequestException):
            return raw
        return HttpResponse(
            status=raw.status,
            headers=CaseInsensitiveDict(raw.headers),
            content=raw.content,
            attempts=attempt,
            call=call,
            retry_after=parse_retry_after(raw.headers.get("Retry-After"), self._now()),
        )

    def _capped_wait(self, rules: RetryPolicy, response: HttpResponse) -> HttpResponse:
        """An answer that is not retried here may still ask for a wait (a 2xx status poll
        saying when to look again): the caller sleeps at most the policy's Retry-After
        limit, and hears which wait was refused."""
        asked = response.retry_after
        if asked is None or asked <= rules.max_retry_after:
            return response
        self._log(
            f"{response.call.label}: the service asked to wait {asked:.0f} s (Retry-After on "
            f"HTTP {response.status}); waiting at most {rules.max_retry_after:.0f} s"
        )
        return dataclasses.replace(
            response,
            retry_after=rules.max_retry_after,
            refused_wait=asked,
            wait_limit=rules.max_retry_after,
        )

    def _backoff(self, attempt: int, rules: RetryPolicy | None = None) -> float:
        """The wait before retry `attempt` under the call's policy (else the client's)."""
        rules = rules or self.policy
        ceiling = min(rules.backoff_cap, rules.backoff_base * 2.0 ** (attempt - 1))
        if not rules.jitter:
            return ceiling
        # Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^n)].
        return self._rng.uniform(0.0, ceiling)

    def _status_delay(self, rules: RetryPolicy, response: HttpResponse, attempt: int) -> float:
        if response.retry_after is not None:
            return response.retry_after
        return self._backoff(attempt, rules)

    def _may_retry_failure(self, exc: requests.RequestException, retry: RetryMode) -> bool:
        if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
            return False  # a certificate or URL problem does not fix itself
        if isinstance(exc, DeadlineExceeded | BodyTooLarge | BodyDecodingError):
            # The same answer again would cost the same time or memory; it ends the call.
            return False
        if retry is RetryMode.CONNECT_ONLY and not never_sent(exc):
            return False
        return isinstance(exc, _TRANSIENT)

    def _may_retry(
        self, rules: RetryPolicy, attempt: int, waited: float, delay: float, *, asked: float | None
    ) -> tuple[bool, float | None, float | None]:
        """(whether one more attempt may go, taking a retry from the budget; the wait
        refused and the limit it broke, when the policy's waiting limits are why not)."""
        if attempt >= rules.max_attempts:
            return False, None, None
        if asked is not None and asked > rules.max_retry_after:
            return False, asked, rules.max_retry_after
        if waited + delay > rules.max_wait_per_call:
            return False, delay, rules.max_wait_per_call
        return self.budget.take_retry(), None, None

    def _pause(
        self, rules: RetryPolicy, call: Call, reason: str, attempt: int, delay: float
    ) -> None:
        retries = rules.max_attempts - 1
        self._log(f"{call.label}: {reason}; retry {attempt} of {retries} in {delay:.1f} s")
        if self._wait(delay):
            self._raise_interrupted(call)

    def _raise_if_stopped(self, call: Call) -> None:
        if self._stop.is_set():
            self._raise_interrupted(call)

    def _raise_interrupted(self, call: Call) -> NoReturn:
        msg = f"cancelled while calling {call.label}"
        raise Interrupted(msg, hint="the runner asked the job to stop")

    def _log(self, text: str) -> None:
        # Retry notices quote the service's reason and reach stderr, which the runner
        # also reads for commands.
        log.warning("%s", neutralise_commands(self.redactor(text)))

    def _transport_error(
        self,
        call: Call,
        exc: requests.RequestException,
        attempts: int,
        timeout: tuple[float, float],
        refused_wait: float | None = None,
    ) -> ApiError:
        host = urlsplit(self.base_url).netloc
        after = f" (after {attempts} attempt{'s' if attempts != 1 else ''})"
        kind = failure_kind(exc)
        if kind == "tls":
            message = f"TLS handshake with {host} failed"
            hint = TLS_HINT
        elif kind == "dns":
            message = f"cannot resolve the host name {urlsplit(self.base_url).hostname}{after}"
            hint = (
                "check the host name in COGNIGY_TENANT / "
                "COGNIGY_BASE_URL (or the config's base_url) for a typo, and that the "
                "runner can resolve names"
            )
        elif kind in ("connect-timeout", "refused"):
            message = f"cannot connect to {host}{after}"
            hint = (
                "check COGNIGY_TENANT / COGNIGY_BASE_URL and that the runner can reach the service"
            )
        elif kind == "read-timeout":
            message = f"no answer from {host} within {timeout[1]:g} s{after}"
            hint = "the service is slow or overloaded; re-run the job later"
        elif kind == "deadline":
            message = (
                f"no complete answer from {host} within the {_deadline(exc):g} s deadline "
                f"of one request (connect, headers and the whole body){after}"
            )
            hint = (
                "the service answers too slowly or never finishes its answer; re-run the "
                "job later and quote the time of the run to support"
            )
        elif kind == "too-large":
            message = f"the answer from {host} was refused: {exc}{after}"
            hint = (
                "the service sent far more than any answer of this call needs (a broken "
                "service, or a compressed body that expands without bound); check "
                "COGNIGY_BASE_URL / the backend's base_url and quote the time to support"
            )
        elif kind == "undecodable":
            message = f"the answer from {host} could not be decoded{after}"
            hint = (
                "the service compressed its answer in a way ci-trainer did not ask for "
                "(only gzip and deflate) or sent broken data; quote the detail to support"
            )
        else:
            message = f"the connection to {host} failed before a complete answer{after}"
            hint = "a network or service problem; re-run the job later"
        # "sent": whether the request may have reached the service, so that a caller of a
        # write can tell "nothing happened" from "it may have happened" (reconcile).
        extra: dict[str, object] = {
            "attempts": attempts,
            "failure": kind,
            "sent": not never_sent(exc),
        }
        if refused_wait is not None:
            extra["refused_wait"] = refused_wait
        return ApiError(
            call=call.label,
            message_text=self.redactor(message),
            detail=self.redactor(describe_failure(exc)),
            hint_text=hint,
            extra=extra,
        )


_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(
        exc, requests.exceptions.SSLError
    ):
        return False
    reason: object = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
    return isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    )


def _name_not_resolved(exc: BaseException) -> bool:
    """True when the host name could not be resolved (a typo in the tenant, no DNS)."""
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason: object = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
    return isinstance(reason, urllib3.exceptions.NameResolutionError)


def failure_kind(exc: requests.RequestException) -> FailureKind:
    """What kind of transport failure `exc` is, in the order its types overlap."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, DeadlineExceeded):
        return "deadline"
    if isinstance(exc, BodyTooLarge):
        return "too-large"
    if isinstance(exc, BodyDecodingError):
        return "undecodable"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect-timeout"
    if _name_not_resolved(exc):
        return "dns"
    if never_sent(exc):
        return "refused"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read-timeout"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection"
    return "other"


def describe_failure(exc: BaseException) -> str:
    """A short, stable description: the innermost cause, without urllib3's object reprs."""
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_problem(exc)
    if isinstance(exc, DeadlineExceeded | BodyTooLarge | BodyDecodingError):
        return str(exc)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timed out"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timed out"
    if _name_not_resolved(exc):
        return "name resolution failed (no such host, or no DNS)"
    if never_sent(exc):
        return "connection refused or host unreachable"
    text = str(exc)
    for known in ("Connection reset by peer", "Connection aborted", "RemoteDisconnected"):
        if known in text:
            return f"connection closed by the server ({known})"
    return re.sub(r" object at 0x[0-9a-f]+", "", text)[:300]


def _deadline(exc: BaseException) -> float:
    return exc.deadline if isinstance(exc, DeadlineExceeded) else 0.0

"""The one HTTP policy for every call to the training service.

One `requests.Session` per client; (connect, read) timeouts on every request; retries on
429, 502, 503, 504 and transport failures with capped exponential backoff and full
jitter, or exactly the wait a `Retry-After` header asks for; a retry budget per call and
per run; sleeps that end at once when the run is cancelled. Whether a call may be
retried at all is the caller's statement (`RetryMode`), because only the caller knows
whether repeating it could do something twice (start a second training, promote twice).

Every failure leaves here as a typed `ApiError` whose text is redacted.
"""

from __future__ import annotations

import enum
import json
import logging
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn, TypeVar, overload
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from ci_trainer import __version__
from ci_trainer.errors import ApiError, Interrupted
from ci_trainer.http.trust import TLS_HINT, tls_problem
from ci_trainer.redact import MASK, Redactor

log = logging.getLogger("ci_trainer.http")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
BODY_LIMIT = 2000  # characters of a response body kept for support tickets
_DELTA_SECONDS = re.compile(r"^[0-9]+$")
_SECRET_KEY = re.compile(r"token|secret|password|authorization|api[_-]?key", re.IGNORECASE)


class RetryMode(enum.Enum):
    """How far a call may be repeated without risk of doing something twice."""

    SAFE = "safe"  # idempotent (GET, keyed POST /train): retry statuses and transport failures
    CONNECT_ONLY = "connect-only"  # only when the request provably never reached the server


@dataclass(frozen=True)
class RetryPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5  # per call, the first attempt included
    run_retry_budget: int = 60  # retries summed over every call of one client (one run)
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # A longer Retry-After ends the call with a clear error instead of stalling the job.
    max_retry_after: float = 300.0
    max_wait_per_call: float = 600.0
    # Statuses worth repeating for a SAFE call; a service may add its own (v2: 408, 500).
    retry_statuses: frozenset[int] = RETRY_STATUSES


class RetryBudget:
    """Retries left for the whole run; shared by every call of a client (thread-safe)."""

    def __init__(self, total: int) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    @property
    def left(self) -> int:
        return self._left


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

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.content.decode("utf-8"))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date.

    A date in the past means "now" (0); anything unparsable is None, so the caller falls
    back to its own backoff rather than trusting garbage.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.match(value):  # ASCII digits only: str.isdigit() accepts "²"
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # An explicit (no-op) auth stops requests from adding ~/.netrc credentials, which
    # would otherwise replace our Authorization header.
    return request


class HttpClient:
    """Sends requests to one base URL under the retry policy. One per run."""

    def __init__(
        self,
        base_url: str,
        *,
        redactor: Redactor,
        stop: threading.Event | None = None,
        policy: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        wait: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.redactor = redactor
        self.policy = policy or RetryPolicy()
        self.budget = budget or RetryBudget(self.policy.run_retry_budget)
        self._stop = stop or threading.Event()
        self._wait = wait or self._stop.wait
        self._rng = rng or random.Random()
        self._now = now or _utcnow  # for HTTP-date Retry-After values
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"ci-trainer/{__version__}"
        self._session.headers["Accept"] = "application/json, application/problem+json"

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
        read_timeout: float | None = None,
    ) -> HttpResponse:
        """Send `call`, retrying as `retry` allows; return the final response, any status.

        `files` (field -> (filename, content, media type)) makes a multipart body with
        `form` as its other fields. Raises ApiError when no response could be had,
        Interrupted when the run stops.
        """
        timeout = (self.policy.connect_timeout, read_timeout or self.policy.read_timeout)
        request = {
            "headers": dict(headers or {}),
            "json": json_body,
            "data": form,
            "files": dict(files) if files else None,
            "timeout": timeout,
        }
        attempt, waited = 0, 0.0
        while True:
            self._raise_if_stopped(call)
            attempt += 1
            outcome = self._attempt(call, request)
            if isinstance(outcome, requests.RequestException):
                delay = self._backoff(attempt)
                if not self._may_retry_failure(outcome, retry, attempt, waited + delay):
                    raise self._transport_error(call, outcome, attempt, timeout)
                self._pause(call, _describe_failure(outcome), attempt, delay)
            else:
                response = self._response(call, outcome, attempt)
                delay = self._status_delay(response, attempt)
                if not self._may_retry_status(response, retry, attempt, waited + delay):
                    return response
                self._pause(call, f"HTTP {response.status}", attempt, delay)
            waited += delay

    def _attempt(
        self, call: Call, request: Mapping[str, Any]
    ) -> requests.Response | requests.RequestException:
        """One request; a transport failure is returned, not raised, so that retry waits
        and the final error are not chained to requests' exception (URLs, reprs)."""
        try:
            return self._session.request(
                call.method,
                self.base_url + call.path,
                allow_redirects=False,
                auth=_no_netrc,
                **request,
            )
        except requests.RequestException as exc:
            return exc

    def _response(self, call: Call, raw: requests.Response, attempt: int) -> HttpResponse:
        retry_after = parse_retry_after(raw.headers.get("Retry-After"), self._now())
        return HttpResponse(
            status=raw.status_code,
            headers=CaseInsensitiveDict(raw.headers),
            content=raw.content,
            attempts=attempt,
            call=call,
            retry_after=retry_after,
        )

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^n)].
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    def _status_delay(self, response: HttpResponse, attempt: int) -> float:
        if response.retry_after is not None:
            return response.retry_after
        return self._backoff(attempt)

    def _may_retry_status(
        self, response: HttpResponse, retry: RetryMode, attempt: int, total_wait: float
    ) -> bool:
        if response.status not in self.policy.retry_statuses or retry is not RetryMode.SAFE:
            return False
        if response.retry_after is not None and response.retry_after > self.policy.max_retry_after:
            return False
        return self._within_budget(attempt, total_wait)

    def _may_retry_failure(
        self, exc: requests.RequestException, retry: RetryMode, attempt: int, total_wait: float
    ) -> bool:
        if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
            return False  # a certificate or URL problem does not fix itself
        if retry is RetryMode.CONNECT_ONLY and not _never_sent(exc):
            return False
        if not isinstance(exc, _TRANSIENT):
            return False
        return self._within_budget(attempt, total_wait)

    def _within_budget(self, attempt: int, total_wait: float) -> bool:
        if attempt >= self.policy.max_attempts or total_wait > self.policy.max_wait_per_call:
            return False
        return self.budget.take()

    def _pause(self, call: Call, reason: str, attempt: int, delay: float) -> None:
        retries = self.policy.max_attempts - 1
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
        log.warning("%s", self.redactor(text))

    def _transport_error(
        self,
        call: Call,
        exc: requests.RequestException,
        attempts: int,
        timeout: tuple[float, float],
    ) -> ApiError:
        host = urlsplit(self.base_url).netloc
        after = f" (after {attempts} attempt{'s' if attempts != 1 else ''})"
        if isinstance(exc, requests.exceptions.SSLError):
            message = f"TLS handshake with {host} failed"
            hint = TLS_HINT
        elif isinstance(exc, requests.exceptions.ConnectTimeout) or _never_sent(exc):
            message = f"cannot connect to {host}{after}"
            hint = (
                "check COGNIGY_TENANT / COGNIGY_BASE_URL and that the runner can reach the service"
            )
        elif isinstance(exc, requests.exceptions.ReadTimeout):
            message = f"no answer from {host} within {timeout[1]:g} s{after}"
            hint = "the service is slow or overloaded; re-run the job later"
        else:
            message = f"the connection to {host} failed before a complete answer{after}"
            hint = "a network or service problem; re-run the job later"
        return ApiError(
            call=call.label,
            message_text=self.redactor(message),
            detail=self.redactor(_describe_failure(exc)),
            hint_text=hint,
            extra={"attempts": attempts},
        )


_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def _never_sent(exc: BaseException) -> bool:
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


def _describe_failure(exc: BaseException) -> str:
    """A short, stable description: the innermost cause, without urllib3's object reprs."""
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_problem(exc)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timed out"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timed out"
    if _never_sent(exc):
        return "connection refused or host unreachable"
    text = str(exc)
    for known in ("Connection reset by peer", "Connection aborted", "RemoteDisconnected"):
        if known in text:
            return f"connection closed by the server ({known})"
    return re.sub(r" object at 0x[0-9a-f]+", "", text)[:300]


# ---------------------------------------------------------------------------------------
# Turning a final non-2xx response into a typed error


_STATUS_TEXT: dict[int, tuple[str, str]] = {
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
    409: (
        "conflict with an earlier request",
        "a request with the same Idempotency-Key but a different body was sent before; "
        "re-run the job to get a new key",
    ),
    429: (
        "rate limited by the service",
        "the tenant's rate limit is exhausted; re-run later or raise "
        "training.poll_interval_floor_seconds",
    ),
}


def _default_text(status: int) -> tuple[str, str]:
    if status in _STATUS_TEXT:
        return _STATUS_TEXT[status]
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
    """A response body safe to keep: secret-looking JSON fields masked, redacted, trimmed."""
    try:
        parsed = json.loads(text)
    except ValueError:
        cleaned = text
    else:
        cleaned = json.dumps(_mask_secret_fields(parsed), ensure_ascii=False)
    cleaned = redactor(cleaned)
    return cleaned if len(cleaned) <= BODY_LIMIT else cleaned[:BODY_LIMIT] + "...(trimmed)"


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
) -> ApiError: ...


@overload
def error_from_response(
    response: HttpResponse,
    redactor: Redactor,
    *,
    message: str | None = None,
    hint: str | None = None,
    error_type: type[E],
) -> E: ...


def error_from_response(
    response: HttpResponse,
    redactor: Redactor,
    *,
    message: str | None = None,
    hint: str | None = None,
    error_type: type[ApiError] = ApiError,
) -> ApiError:
    """The typed error for a final non-2xx response: status, RFC 7807 fields, traceId."""
    default_message, default_hint = _default_text(response.status)
    problem = problem_fields(response)
    title = problem.get("title") if isinstance(problem.get("title"), str) else None
    detail = _problem_detail(problem)
    text = message or default_message
    if response.attempts > 1:
        text += f" (after {response.attempts} attempts)"
    if response.retry_after is not None and response.status in RETRY_STATUSES:
        text += f"; it asked to wait {response.retry_after:.0f} s before trying again"
    if 300 <= response.status < 400 and response.headers.get("Location"):
        text += f" to {response.headers['Location']}"
    return error_type(
        call=response.call.label,
        message_text=redactor(text),
        status=response.status,
        title=redactor(title) if title else None,
        detail=redactor(detail) if detail else None,
        trace_id=_trace_id(problem, response),
        body=scrub_body(response.text, redactor) if response.content else None,
        hint_text=hint or default_hint,
        extra={"attempts": response.attempts},
    )

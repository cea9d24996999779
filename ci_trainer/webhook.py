"""Registry sync: POST the run's signed event (ci_trainer.webhook_event) to the webhook.

`deliver` never raises: a registry that is down must not turn a promotion into a
failure, so the outcome is a `WebhookDelivery` the runner reports (and the audit record
keeps). The event goes through the one HTTP client and retry policy (ci_trainer.http)
with the webhook's own numbers (`webhook_policy`) and its own words for each outcome;
the same bytes and `eventId` go out on every attempt.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from ci_trainer.errors import ApiError, Interrupted
from ci_trainer.http.base_url import WebhookUrlError, target_of, webhook_target
from ci_trainer.http.body import BodyLimit
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.client import Call, HttpClient, HttpResponse, Outcome, failure_kind
from ci_trainer.http.policy import USER_AGENT, RetryMode, RetryPolicy
from ci_trainer.http.trust import tls_problem
from ci_trainer.redact import MASK, Redactor, map_strings
from ci_trainer.result import RunResult, WebhookDelivery
from ci_trainer.webhook_event import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    EVENT_NAMES,
    SIGNATURE_HEADER,
    SOURCE,
    build_event,
    event_id_for,
    event_name,
    sendable_text,
    serialise,
    sign,
    verify_signature,
)

# The event's names stay importable from here, where receivers and tests found them.
__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "EVENT_NAMES",
    "MAX_TOTAL_WAIT",
    "RETRY_STATUSES",
    "SIGNATURE_HEADER",
    "SOURCE",
    "STOP_GRACE",
    "build_event",
    "deliver",
    "event_id_for",
    "event_name",
    "serialise",
    "sign",
    "verify_signature",
    "webhook_policy",
]

# Seconds all waits between attempts may add up to: a CI job should not idle for a
# registry; a receiver asking for longer (Retry-After) is given up on at once.
MAX_TOTAL_WAIT = 30.0
# A delivery in flight may go on this long after a stop: a quick registry still hears
STOP_GRACE = 2.0  # of the run, which ends well inside the runner's 7.5 s SIGTERM window.
_BODY_SNIPPET = 200  # characters of a rejecting receiver's answer kept in the error
# Bytes of the receiver's answer read at all: the status decides, the start is the snippet.
_ANSWER_READ = BodyLimit(4096, keep_start=True)
# A receiver that timed out, throttles or failed may take the same event again.
RETRY_STATUSES = frozenset({408, 429, *range(500, 600)})


# --------------------------------------------------------------------------- secrets


class _Scrubber:
    """Removes from error text everything secret: the HMAC secret, registered secrets,
    and the URL's query string and userinfo (tokens often live there)."""

    def __init__(self, url: str, secret: str | None, redactor: Redactor | None) -> None:
        self._redactor = redactor
        self.literals = sorted(
            {value for value in (secret, *_secret_url_parts(url)) if value and len(value) >= 4},
            key=len,
            reverse=True,
        )

    def __call__(self, text: str) -> str:
        for literal in self.literals:
            text = text.replace(literal, MASK)
        return self._redactor(text) if self._redactor is not None else text

    def redactor(self) -> Redactor:
        """The same secrets as a Redactor, for the HTTP client's own log lines."""
        known = self._redactor.values if self._redactor is not None else frozenset()
        return Redactor([*self.literals, *known])


def _secret_url_parts(url: str) -> list[str]:
    """The parts of `url` that may be credentials: query (and each value), fragment,
    userinfo, and the URL itself."""
    text = url.strip()
    found = [text]
    try:
        parts = urlsplit(text)
    except ValueError:
        return found
    found += [parts.query, parts.fragment]
    found += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found += [userinfo, *userinfo.split(":", 1)]
    return found


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class _Attempt:
    """One attempt in the webhook's words."""

    delivered: bool = False
    retry: bool = False
    status: int | None = None
    error: str | None = None


def deliver(
    result: RunResult,
    url: str,
    secret: str | None,
    *,
    timeout: float,
    stop: threading.Event | None = None,
    redactor: Redactor | None = None,
    attempts: int = 4,
    backoff: float = 0.5,
    max_backoff: float = 8.0,
    event_id: str | None = None,
    budget: RequestBudget | None = None,
    deadline: float | None = None,
) -> WebhookDelivery:
    """POST the run's event to `url`; retry 5xx, 408, 429 and connection errors with a
    capped exponential back-off (or the receiver's Retry-After); stop early when `stop`
    is set. Never raises: the outcome is the returned WebhookDelivery. `budget` is the
    run's request budget, when the caller shares one; `deadline` bounds each attempt's
    wall time (default: twice `timeout`)."""
    url = url.strip()  # env values often carry a stray newline
    scrub = _Scrubber(url, secret, redactor)
    event_id = event_id or event_id_for(result)
    try:
        policy = webhook_policy(timeout, attempts, backoff, max_backoff, deadline)
        return _deliver(
            result, url, secret or None, event_id, policy, budget, stop, scrub, redactor
        )
    except Exception as exc:  # the contract is "never raises": a promotion must stand
        return WebhookDelivery(
            attempted=True,
            delivered=False,
            event_id=event_id,
            target=target_of(url),
            signed=bool(secret),
            error=scrub(f"internal error while delivering: {type(exc).__name__}: {exc}"),
        )


def webhook_policy(
    timeout: float,
    attempts: int,
    backoff: float,
    max_backoff: float,
    deadline: float | None = None,
) -> RetryPolicy:
    """The one HTTP policy with the webhook's numbers: its timeout for connect and read,
    their sum (or `deadline`) for the whole attempt (a silent receiver is tried again, a
    dripping one ends), its attempts, a back-off without jitter (one CI run sends one event, there is
    no herd to spread out) and waits that add up to MAX_TOTAL_WAIT at most."""
    return RetryPolicy(
        connect_timeout=timeout,
        read_timeout=timeout,
        request_deadline=deadline or 2 * timeout,
        stop_grace=STOP_GRACE,
        max_attempts=max(1, attempts),
        backoff_base=backoff,
        backoff_cap=max_backoff,
        max_retry_after=MAX_TOTAL_WAIT,
        max_wait_per_call=MAX_TOTAL_WAIT,
        retry_statuses=RETRY_STATUSES,
        jitter=False,
    )


def _deliver(
    result: RunResult,
    url: str,
    secret: str | None,
    event_id: str,
    policy: RetryPolicy,
    budget: RequestBudget | None,
    stop: threading.Event | None,
    scrub: _Scrubber,
    redactor: Redactor | None,
) -> WebhookDelivery:
    outcome = WebhookDelivery(
        attempted=True, event_id=event_id, target=target_of(url), signed=bool(secret)
    )
    try:
        outcome.target = webhook_target(url)
    except WebhookUrlError as exc:
        outcome.error = scrub(str(exc))
        return outcome
    # Every string redacted, and encodable as UTF-8.
    event = map_strings(
        build_event(result, event_id),
        lambda text: sendable_text(redactor(text) if redactor else text),
    )
    body = serialise(event)
    parts = urlsplit(url)
    headers = {**_headers(event["event"], event_id, body, secret), **_basic_auth(parts)}
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    client = HttpClient(origin, redactor=scrub.redactor(), stop=stop, policy=policy, budget=budget)
    try:
        return _send(client, Call("webhook", "POST", path), body, headers, scrub, outcome)
    finally:
        client.close()


def _headers(name: str, event_id: str, body: bytes, secret: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: name,
        DELIVERY_HEADER: event_id,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return headers


def _basic_auth(parts: SplitResult) -> dict[str, str]:
    """User info in the URL becomes Basic credentials, as requests would make them; the
    HTTP client sends no auth of its own (nor ~/.netrc's)."""
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if not (user or password):
        return {}
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


class _Attempts:
    """Hears every attempt of the delivery and keeps the last in the webhook's words."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.count = 0
        self.last = _Attempt(error="not sent")

    def __call__(self, outcome: Outcome) -> None:
        self.count += 1
        self.last = _judge(outcome, self.policy)


def _send(
    client: HttpClient,
    call: Call,
    body: bytes,
    headers: dict[str, str],
    scrub: _Scrubber,
    outcome: WebhookDelivery,
) -> WebhookDelivery:
    heard = _Attempts(client.policy)
    refused: float | None = None
    try:
        response = client.send(
            call,
            retry=RetryMode.SAFE,
            headers=headers,
            content=body,
            on_attempt=heard,
            body_limit=_ANSWER_READ,
        )
        refused = response.refused_wait
    except Interrupted:
        outcome.attempts = heard.count
        before = f"; last attempt: {heard.last.error}" if heard.count else ""
        outcome.error = scrub(
            f"stopped: the run was cancelled after {heard.count} attempt(s){before}"
        )
        return outcome
    except ApiError as exc:  # no answer at all; `heard` has the webhook's words for it
        wait = exc.extra.get("refused_wait")
        refused = wait if isinstance(wait, float) else None
    last = heard.last
    outcome.attempts, outcome.status_code = heard.count, last.status
    if last.delivered:
        outcome.delivered, outcome.error = True, None
        return outcome
    suffix = f" after {heard.count} attempts" if last.retry and heard.count > 1 else ""
    note = ""
    if refused is not None:
        note = f" (the receiver asked to retry in {refused:g} s; waits between attempts "
        note += f"add up to at most {MAX_TOTAL_WAIT:g} s)"
    outcome.error = scrub(f"{last.error}{suffix}{note}")
    return outcome


def _judge(outcome: Outcome, policy: RetryPolicy) -> _Attempt:
    if isinstance(outcome, HttpResponse):
        return _judge_response(outcome)
    # Exception texts from requests embed the full URL (query included): never use them.
    kind = failure_kind(outcome)
    timeout = policy.read_timeout
    if kind == "connect-timeout":
        return _Attempt(retry=True, error=f"connection timed out after {timeout:g} s")
    if kind == "read-timeout":
        return _Attempt(retry=True, error=f"no answer within {timeout:g} s")
    if kind == "deadline":
        return _Attempt(
            error=f"no complete answer within {policy.request_deadline:g} s (the attempt's deadline)"
        )
    if kind == "tls":
        # A private CA: REQUESTS_CA_BUNDLE in the step's env, as for the training service.
        return _Attempt(error=f"TLS handshake failed ({tls_problem(outcome)})")
    if kind == "dns":
        # Retried: a resolver's failure may pass; a misspelt host fails every attempt alike.
        return _Attempt(
            retry=True, error="cannot resolve the receiver's host name (check WEBHOOK_URL)"
        )
    if kind in ("refused", "connection"):
        return _Attempt(retry=True, error=_connection_problem(outcome))
    return _Attempt(error=f"request failed ({type(outcome).__name__})")


def _connection_problem(exc: BaseException) -> str:
    if _caused_by_refusal(exc):
        return "connection refused (is the receiver running?)"
    return "connection failed (reset or network error)"


def _caused_by_refusal(exc: BaseException) -> bool:
    """Walks requests -> urllib3 -> socket errors (cause, context, urllib3's `reason`)."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        pending.extend(
            [
                current.__cause__,
                current.__context__,
                getattr(current, "reason", None),
                *current.args,
            ]
        )
    return False


def _judge_response(response: HttpResponse) -> _Attempt:
    status = response.status
    if 200 <= status < 300:
        return _Attempt(delivered=True, status=status)
    if 300 <= status < 400:
        return _Attempt(
            status=status,
            error=f"HTTP {status}: redirects are not followed (the signed event goes only to "
            "the configured URL; configure the final URL)",
        )
    text = f"HTTP {status} from the receiver"
    snippet = _snippet(response)
    if snippet:
        text += f": {snippet}"
    return _Attempt(retry=status in RETRY_STATUSES, status=status, error=text)


def _snippet(response: HttpResponse) -> str:
    # Control characters (NULs of a binary answer, escape sequences) become spaces.
    text = " ".join("".join(c if c.isprintable() else " " for c in response.text).split())
    return text[:_BODY_SNIPPET] + ("..." if len(text) > _BODY_SNIPPET else "")

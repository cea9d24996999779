"""Registry sync: POST one signed event per run to the configured webhook.

The body is serialised once and those exact bytes are signed (HMAC-SHA256,
`X-CI-Trainer-Signature: sha256=<hex>`) and re-sent on every retry with the same
`eventId`, so a receiver can check the signature and drop duplicates. `deliver` never
raises: a registry that is down must not turn a promotion into a failure, so the outcome
is a `WebhookDelivery` the runner reports (and the audit record keeps).

Event names, by decision (the seed's `model_training_completed` is kept for a finished,
evaluated training):

- `approved`, `rejected` -> `model_training_completed`
- `promoted`             -> `model_promoted`
- `failed`               -> `model_training_failed`
- `invalid`              -> `model_training_invalid`
- `validated`            -> `model_validation_completed`
- `skipped`              -> `model_training_skipped`
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

import requests

from ci_trainer import __version__
from ci_trainer.http.loopback import is_loopback as _is_loopback
from ci_trainer.http.policy import parse_retry_after
from ci_trainer.http.trust import tls_problem
from ci_trainer.redact import MASK, Redactor, map_strings
from ci_trainer.result import Decision, RunResult, WebhookDelivery

SOURCE = "ci-trainer"
SIGNATURE_HEADER = "X-CI-Trainer-Signature"
EVENT_HEADER = "X-CI-Trainer-Event"
DELIVERY_HEADER = "X-CI-Trainer-Delivery"

EVENT_NAMES: dict[Decision, str] = {
    Decision.APPROVED: "model_training_completed",
    Decision.REJECTED: "model_training_completed",
    Decision.PROMOTED: "model_promoted",
    Decision.FAILED: "model_training_failed",
    Decision.INVALID: "model_training_invalid",
    Decision.VALIDATED: "model_validation_completed",
    Decision.SKIPPED: "model_training_skipped",
}

# Event ids are derived from the run's UUID, so even a second delivery of the same run
# (e.g. the runner syncing again after a crash) carries the same id.
_EVENT_NAMESPACE = uuid.UUID("6f1c8f64-3d0b-5c55-9f6e-2b1a4c9d7e30")
# Seconds all waits between attempts may add up to: a CI job should not idle for a
# registry; a receiver asking for longer (Retry-After) is given up on at once.
MAX_TOTAL_WAIT = 30.0
_BODY_SNIPPET = 200  # characters of a rejecting receiver's answer kept in the error
_RETRY_STATUSES = frozenset({408, 429})


class WebhookUrlError(ValueError):
    """The webhook URL cannot be used; the message names the rule and never the secret
    parts of the URL."""


# --------------------------------------------------------------------------- event


def event_name(decision: Decision) -> str:
    return EVENT_NAMES[decision]


def event_id_for(result: RunResult) -> str:
    """The run's event id: a UUID that is the same on every attempt for this run."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, result.run_uuid))


def build_event(result: RunResult, event_id: str) -> dict[str, Any]:
    """The event body: the seed's fields plus eventId, decision, promotion and provenance."""
    provenance = result.provenance
    return {
        "event": event_name(result.decision),
        "eventId": event_id,
        "timestamp": _iso(result.finished_at),
        "modelId": result.model_id,
        "trainingId": result.training_id,
        "versionId": result.version_id,
        "metrics": _metrics(result),
        "source": SOURCE,
        "decision": result.decision.value,
        "reason": result.reason,
        "promoted": result.promoted,
        "environment": result.promotion.environment,
        "productionVersionId": result.production.version_id if result.production else None,
        "mode": result.mode.value,
        "auditId": result.run_uuid,
        "provenance": {
            "repository": provenance.repository,
            "commit": provenance.commit,
            "ref": provenance.ref,
            "runId": provenance.run_id,
            "runAttempt": provenance.run_attempt,
        },
        "toolVersion": result.tool_version,
    }


def _metrics(result: RunResult) -> dict[str, Any] | None:
    metrics = result.metrics
    if metrics is None:
        return None
    return {
        "versionId": metrics.version_id,
        "f1": _number(metrics.f1),
        "precision": _number(metrics.precision),
        "recall": _number(metrics.recall),
        "accuracy": _number(metrics.accuracy),
        "macroF1": _number(metrics.macro_f1),
        "perIntent": [
            {
                "intent": score.intent,
                "precision": _number(score.precision),
                "recall": _number(score.recall),
                "f1": _number(score.f1),
                "support": score.support,
            }
            for score in metrics.per_intent
        ],
        # A combined target's members (cognigy-v2, several flow x locales); else empty.
        "targets": [
            {
                "id": score.id,
                "label": score.label,
                "f1": _number(score.f1),
                "accuracy": _number(score.accuracy),
                "macroF1": _number(score.macro_f1),
                "intentCount": score.intent_count,
                "setsCombined": list(score.sets_combined),
            }
            for score in metrics.targets
        ],
    }


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()


def _text(value: str) -> str:
    # A lone surrogate (e.g. a path read with surrogateescape) cannot be sent as UTF-8.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def serialise(event: dict[str, Any]) -> bytes:
    """The exact body bytes that are sent and signed."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


# --------------------------------------------------------------------------- signature


def sign(body: bytes, secret: str) -> str:
    """The signature header value for `body`: `sha256=<lowercase hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(body: bytes, header: str, secret: str) -> bool:
    """For receivers: True when `header` is the HMAC-SHA256 of the exact `body` bytes.

    Compares in constant time, so the answer time does not leak the expected digest.
    """
    if not header or not secret:
        return False
    scheme, _, digest = header.strip().partition("=")
    if scheme.strip().lower() != "sha256":
        return False
    expected = sign(body, secret).encode("ascii")
    given = ("sha256=" + digest.strip().lower()).encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


# --------------------------------------------------------------------------- URL


def check_url(url: str) -> str:
    """The delivery target (scheme://host[:port]/path) of a usable webhook URL.

    https is required, except for loopback hosts (127.0.0.0/8, ::1, localhost) where
    plain http is allowed for local receivers and tests. Raises `WebhookUrlError`.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        shown = f"'{scheme}'" if scheme else "none"
        msg = f"the webhook URL must start with https:// (scheme: {shown})"
        raise WebhookUrlError(msg)
    host = parts.hostname
    if not host:
        msg = "the webhook URL has no host"
        raise WebhookUrlError(msg)
    target = safe_target(url)
    if scheme == "http" and not _is_loopback(host):
        msg = (
            f"the webhook URL {target} must use https:// (plain http is allowed only for "
            "loopback hosts: 127.0.0.0/8, ::1, localhost)"
        )
        raise WebhookUrlError(msg)
    return target or url


def safe_target(url: str) -> str | None:
    """`url` without userinfo, query and fragment, or None when it cannot be parsed."""
    try:
        parts = _split(url)
    except WebhookUrlError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path}"


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        msg = "the webhook URL cannot be parsed (check the host and port)"
        raise WebhookUrlError(msg) from exc
    return parts


class _Scrubber:
    """Removes from error text everything secret: the HMAC secret, registered secrets,
    and the URL's query string and userinfo (tokens often live there)."""

    def __init__(self, url: str, secret: str | None, redactor: Redactor | None) -> None:
        self._redactor = redactor
        self._literals = sorted(
            {value for value in (secret, *_secret_url_parts(url)) if value and len(value) >= 4},
            key=len,
            reverse=True,
        )

    def __call__(self, text: str) -> str:
        for literal in self._literals:
            text = text.replace(literal, MASK)
        return self._redactor(text) if self._redactor is not None else text


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
    delivered: bool = False
    retry: bool = False
    status: int | None = None
    retry_after: float | None = None
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
) -> WebhookDelivery:
    """POST the run's event to `url`; retry 5xx, 408, 429 and connection errors with a
    capped exponential back-off (or the receiver's Retry-After); stop early when `stop`
    is set. Never raises: the outcome is the returned WebhookDelivery."""
    url = url.strip()  # env values often carry a stray newline
    scrub = _Scrubber(url, secret, redactor)
    event_id = event_id or event_id_for(result)
    try:
        return _deliver(
            result,
            url,
            secret or None,
            _Policy(timeout, stop, max(1, attempts), backoff, max_backoff),
            scrub,
            redactor,
            event_id,
        )
    except Exception as exc:  # the contract is "never raises": a promotion must stand
        return WebhookDelivery(
            attempted=True,
            delivered=False,
            event_id=event_id,
            target=safe_target(url),
            signed=bool(secret),
            error=scrub(f"internal error while delivering: {type(exc).__name__}: {exc}"),
        )


@dataclass(frozen=True)
class _Policy:
    timeout: float
    stop: threading.Event | None
    attempts: int
    backoff: float
    max_backoff: float

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # No jitter: one CI run sends one event, there is no herd to spread out.
        if retry_after is not None:
            return max(retry_after, 0.0)
        return min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep; True when interrupted by `stop`."""
        if self.stop is None:
            time.sleep(seconds)
            return False
        return self.stop.wait(seconds)


def _deliver(
    result: RunResult,
    url: str,
    secret: str | None,
    policy: _Policy,
    scrub: _Scrubber,
    redactor: Redactor | None,
    event_id: str,
) -> WebhookDelivery:
    outcome = WebhookDelivery(
        attempted=True, event_id=event_id, target=safe_target(url), signed=bool(secret)
    )
    try:
        outcome.target = check_url(url)
    except WebhookUrlError as exc:
        outcome.error = scrub(str(exc))
        return outcome
    # Every string redacted, and encodable as UTF-8.
    event = map_strings(
        build_event(result, event_id), lambda text: _text(redactor(text) if redactor else text)
    )
    body = serialise(event)
    headers = _headers(event["event"], event_id, body, secret)
    with requests.Session() as session:
        return _send_with_retries(session, url, body, headers, policy, scrub, outcome)


def _headers(name: str, event_id: str, body: bytes, secret: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"ci-trainer/{__version__}",
        EVENT_HEADER: name,
        DELIVERY_HEADER: event_id,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return headers


def _send_with_retries(
    session: requests.Session,
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: _Policy,
    scrub: _Scrubber,
    outcome: WebhookDelivery,
) -> WebhookDelivery:
    last = _Attempt(error="not sent")
    waited = 0.0
    note = ""
    for attempt in range(1, policy.attempts + 1):
        if policy.stopped():
            return _interrupted(outcome, last, scrub)
        last = _post_once(session, url, body, headers, policy.timeout)
        outcome.attempts = attempt
        outcome.status_code = last.status
        if last.delivered:
            outcome.delivered = True
            outcome.error = None
            return outcome
        if not last.retry or attempt == policy.attempts:
            break
        delay = policy.delay(attempt, last.retry_after)
        if waited + delay > MAX_TOTAL_WAIT:
            note = (
                f" (the receiver asked to retry in {delay:g} s; waits between attempts "
                f"add up to at most {MAX_TOTAL_WAIT:g} s)"
            )
            break
        if policy.wait(delay):
            return _interrupted(outcome, last, scrub)
        waited += delay
    count = outcome.attempts
    suffix = f" after {count} attempts" if last.retry and count > 1 else ""
    outcome.error = scrub(f"{last.error}{suffix}{note}")
    return outcome


def _interrupted(outcome: WebhookDelivery, last: _Attempt, scrub: _Scrubber) -> WebhookDelivery:
    before = f"; last attempt: {last.error}" if outcome.attempts else ""
    outcome.error = scrub(
        f"stopped: the run was cancelled after {outcome.attempts} attempt(s){before}"
    )
    return outcome


def _post_once(
    session: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> _Attempt:
    # Exception texts from requests embed the full URL (query included): never use them.
    try:
        response = session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.exceptions.ConnectTimeout:
        return _Attempt(retry=True, error=f"connection timed out after {timeout:g} s")
    except requests.exceptions.ReadTimeout:
        return _Attempt(retry=True, error=f"no answer within {timeout:g} s")
    except requests.exceptions.SSLError as exc:
        # A private CA: REQUESTS_CA_BUNDLE in the step's env, as for the training service.
        return _Attempt(error=f"TLS handshake failed ({tls_problem(exc)})")
    except requests.exceptions.ConnectionError as exc:
        return _Attempt(retry=True, error=_connection_problem(exc))
    except requests.exceptions.RequestException as exc:
        return _Attempt(error=f"request failed ({type(exc).__name__})")
    with response:
        return _judge(response)


def _connection_problem(exc: BaseException) -> str:
    if _caused_by_refusal(exc):
        return "connection refused (is the receiver running?)"
    return "connection failed (DNS, reset or network error)"


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


def _judge(response: requests.Response) -> _Attempt:
    status = response.status_code
    if 200 <= status < 300:
        return _Attempt(delivered=True, status=status)
    if 300 <= status < 400:
        return _Attempt(
            status=status,
            error=f"HTTP {status}: redirects are not followed (the signed event goes only to "
            "the configured URL; configure the final URL)",
        )
    retry = status >= 500 or status in _RETRY_STATUSES
    text = f"HTTP {status} from the receiver"
    snippet = _snippet(response)
    if snippet:
        text += f": {snippet}"
    return _Attempt(
        retry=retry,
        status=status,
        retry_after=parse_retry_after(
            response.headers.get("Retry-After"), datetime.now(timezone.utc)
        ),
        error=text,
    )


def _snippet(response: requests.Response) -> str:
    try:
        text = response.text
    except (requests.exceptions.RequestException, UnicodeDecodeError):
        return ""
    text = " ".join(text.split())
    return text[:_BODY_SNIPPET] + ("..." if len(text) > _BODY_SNIPPET else "")

"""The one retry policy for every request a run sends: training service and webhook.

(connect, read) timeouts and one wall-clock deadline on every request, a size cap on
every answer; retries on the policy's statuses and on
transport failures with capped exponential backoff (full jitter unless turned off), or
exactly the wait a `Retry-After` header asks for; a limit per call on attempts and on
waiting. Whether a call may be retried at all is the caller's statement (`RetryMode`),
because only the caller knows whether repeating it could do something twice (start a
second training, promote twice).

Standard library only: the early token request (ci_trainer.startup) reads its timeouts
and headers from here before the client's imports load. `HttpClient`
(ci_trainer.http.client) applies the policy.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from ci_trainer import __version__

if TYPE_CHECKING:
    from requests import PreparedRequest

RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = f"ci-trainer/{__version__}"
ACCEPT = "application/json, application/problem+json"
_DELTA_SECONDS = re.compile(r"^[0-9]+$")


class RetryMode(enum.Enum):
    """How far a call may be repeated without risk of doing something twice."""

    SAFE = "safe"  # idempotent (GET, keyed POST /train): retry statuses and transport failures
    # Only when the request provably never reached the server: no connection was made,
    # or a 429 refused it before any processing. Never on a 5xx or a timeout.
    CONNECT_ONLY = "connect-only"


@dataclass(frozen=True)
class RetryPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5  # per call, the first attempt included
    run_retry_budget: int = 60  # retries summed over every call of one run
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # A longer Retry-After ends the call with a clear error instead of stalling the job.
    max_retry_after: float = 300.0
    max_wait_per_call: float = 600.0
    # One wall-clock bound per attempt: connect, headers and the whole body. The read
    # timeout bounds each socket read only, which a body dripping a byte a second obeys.
    request_deadline: float = 120.0
    # The most an answer may weigh, on the wire and decoded (a snapshot download is the
    # biggest legitimate one); a bigger answer is refused, not held in memory.
    max_body_bytes: int = 64 * 1024 * 1024
    # Seconds a request in flight may go on once the run is stopped: none for the
    # training service; the webhook's last word to the registry gets a little.
    stop_grace: float = 0.0
    # Statuses worth repeating for a SAFE call; a service may add its own (v2: 408, 500).
    retry_statuses: frozenset[int] = RETRY_STATUSES
    # Full jitter spreads many clients' retries apart; a single sender (the webhook's one
    # event per run) has no herd to spread and keeps its waits predictable.
    jitter: bool = True


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date.

    A date in the past means "now" (0); anything unparsable is None, so the caller falls
    back to its own backoff rather than trusting garbage.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):  # ASCII digits only: str.isdigit() accepts "²"
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def no_netrc(request: PreparedRequest) -> PreparedRequest:
    """An explicit (no-op) auth for requests: it stops requests from adding ~/.netrc
    credentials, which would otherwise replace our Authorization header."""
    return request

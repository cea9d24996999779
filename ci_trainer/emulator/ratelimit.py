"""The emulators' rate limits (off unless configured): a token bucket per client (the v1
personality) and one sliding window over every request (the v2 personality, as Cognigy
counts requests per 5 minutes). Both answer `take(key)` with the seconds to wait, 0 when
the request may go ahead."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateLimit:
    """`rate` requests per second on average, bursts of up to `burst` requests."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            msg = "rate limit: rate must be > 0 requests/s and burst >= 1"
            raise ValueError(msg)

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`"RATE/BURST"`, e.g. `"5/10"`: 5 requests/s, bursts of 10."""
        rate, _, burst = text.partition("/")
        try:
            return cls(rate=float(rate), burst=int(burst or max(1, math.ceil(float(rate)))))
        except ValueError:
            msg = f"rate limit {text!r}: expected RATE/BURST, e.g. 5/10"
            raise ValueError(msg) from None


class Limiter(Protocol):
    def take(self, key: str) -> float:
        """Count one request of `key`; the seconds it must wait instead, or 0 when allowed."""
        ...


class TokenBuckets:
    """One bucket per client key; `take` answers how long to wait, or 0 when allowed."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.limit.burst), now))
            tokens = min(float(self.limit.burst), tokens + (now - at) * self.limit.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.limit.rate


class SlidingWindow:
    """At most `limit` requests in any `seconds`, whoever sends them (`key` is ignored)."""

    def __init__(
        self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self._clock()
        with self._lock:
            while self._stamps and self._stamps[0] <= now - self.seconds:
                self._stamps.popleft()
            if len(self._stamps) >= self.limit:
                return self._stamps[0] + self.seconds - now
            self._stamps.append(now)
            return 0.0

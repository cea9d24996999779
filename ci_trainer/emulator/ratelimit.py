"""A token bucket per client: the emulator's rate limit (off unless configured)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


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

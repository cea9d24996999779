"""A sliding-window rate limit: at most N requests per window, waiting (interruptibly)
for a slot when the window is full.

A pace, not an allowance: it never refuses a request, it only delays one. Cognigy's
shared SaaS allows about 1,000 requests per 5 minutes per source IP (one release note
says 4 minutes), and other jobs on the same runner share that limit, so a v2 run keeps
its own window well under it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from ci_trainer.errors import Interrupted

DEFAULT_WINDOW_LIMIT = 600  # requests per window: well under the tenant's 1,000
DEFAULT_WINDOW_SECONDS = 300.0


class RateLimit:
    """Request time stamps of one run inside the last window (thread-safe)."""

    def __init__(
        self,
        limit: int = DEFAULT_WINDOW_LIMIT,
        seconds: float = DEFAULT_WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if limit < 1 or seconds <= 0:
            msg = "a rate limit's request count and window must be positive"
            raise ValueError(msg)
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._wait = wait or threading.Event().wait
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self, label: str) -> None:
        """Take a slot for one request, waiting while the window is full."""
        while True:
            delay = self._try_take()
            if delay is None:
                return
            self.waited_seconds += delay
            if self._wait(delay):
                msg = f"cancelled while waiting for the request budget before {label}"
                raise Interrupted(msg, hint="the runner asked the job to stop")

    def _try_take(self) -> float | None:
        """None when a slot was taken, else the seconds until the oldest one frees."""
        with self._lock:
            now = self._clock()
            while self._stamps and self._stamps[0] <= now - self.seconds:
                self._stamps.popleft()
            if len(self._stamps) >= self.limit:
                return max(0.01, self._stamps[0] + self.seconds - now)
            self._stamps.append(now)
            return None

"""A per-run request budget: a sliding window that keeps the run under the tenant's limit.

Cognigy's shared SaaS allows about 1,000 requests per 5 minutes per source IP (one
release note says 4 minutes). A run that scores a holdout set one utterance per request
could spend that alone, and other jobs on the same runner share the limit, so the
client waits (interruptibly) when its own window is full, and refuses outright once the
run's total is spent.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from ci_trainer.errors import ApiError, Interrupted

DEFAULT_WINDOW_LIMIT = 600  # requests per window: well under the tenant's 1,000
DEFAULT_WINDOW_SECONDS = 300.0
DEFAULT_RUN_LIMIT = 5000


class RequestBudget:
    """Counts every request attempt of one run (thread-safe)."""

    def __init__(
        self,
        window_limit: int = DEFAULT_WINDOW_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        run_limit: int = DEFAULT_RUN_LIMIT,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if window_limit < 1 or run_limit < 1 or window_seconds <= 0:
            msg = "request budget limits must be positive"
            raise ValueError(msg)
        self.window_limit = window_limit
        self.window_seconds = window_seconds
        self.run_limit = run_limit
        self._clock = clock
        self._wait = wait or threading.Event().wait
        self._stamps: deque[float] = deque()
        self._used = 0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    @property
    def used(self) -> int:
        return self._used

    def acquire(self, label: str) -> None:
        """Take one request, waiting for the window to free a slot when it is full."""
        while True:
            delay = self._try_take(label)
            if delay is None:
                return
            self.waited_seconds += delay
            if self._wait(delay):
                msg = f"cancelled while waiting for the request budget before {label}"
                raise Interrupted(msg, hint="the runner asked the job to stop")

    def record_extra(self, count: int) -> None:
        """Count retries the HTTP policy made inside one call (they hit the tenant too)."""
        if count <= 0:
            return
        with self._lock:
            now = self._clock()
            self._used += count
            self._stamps.extend([now] * count)

    def _try_take(self, label: str) -> float | None:
        with self._lock:
            now = self._clock()
            while self._stamps and self._stamps[0] <= now - self.window_seconds:
                self._stamps.popleft()
            if self._used >= self.run_limit:
                raise ApiError(
                    call=label,
                    message_text=f"the run's request budget of {self.run_limit} requests is spent",
                    hint_text="score a smaller holdout set or raise "
                    "cognigy_v2.max_requests_per_run",
                )
            if len(self._stamps) >= self.window_limit:
                return max(0.01, self._stamps[0] + self.window_seconds - now)
            self._stamps.append(now)
            self._used += 1
            return None

"""What one run may spend on HTTP: one budget shared by every client of the run.

Every attempt of every call counts as a request; every repeat the retry policy makes
counts as a retry as well. A run refuses a request once its request allowance is spent
(`run_limit`, e.g. a v2 run scoring a holdout one utterance per request), and stops
retrying once its retry allowance is spent (a service failing all run long should end
the run, not keep it busy). A `RateLimit`, when given, paces the requests: it delays,
never refuses, so it is a separate concept the budget only holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ci_trainer.errors import ApiError
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.http.rate_limit import DEFAULT_WINDOW_SECONDS, RateLimit

DEFAULT_RETRY_LIMIT = RetryPolicy().run_retry_budget


class RequestBudget:
    """Counts the requests and retries of one run (thread-safe).

    `run_limit` None means no request allowance; `window_limit` None means no pace.
    """

    def __init__(
        self,
        *,
        run_limit: int | None = None,
        retry_limit: int = DEFAULT_RETRY_LIMIT,
        window_limit: int | None = None,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if (run_limit is not None and run_limit < 1) or retry_limit < 0:
            msg = "request budget limits must be positive"
            raise ValueError(msg)
        self.run_limit = run_limit
        self.retry_limit = retry_limit
        self.rate_limit = (
            RateLimit(window_limit, window_seconds, clock=clock, wait=wait)
            if window_limit is not None
            else None
        )
        self._used = 0
        self._retries = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Requests sent so far (every attempt)."""
        return self._used

    @property
    def retries_left(self) -> int:
        return self.retry_limit - self._retries

    def take_request(self, label: str) -> None:
        """Count one attempt of `label`; waits for the pace, raises ApiError when spent."""
        with self._lock:
            if self.run_limit is not None and self._used >= self.run_limit:
                raise ApiError(
                    call=label,
                    message_text=f"the run's request budget of {self.run_limit} requests is spent",
                    hint_text="score a smaller holdout set or raise "
                    "cognigy_v2.max_requests_per_run",
                )
            self._used += 1
        if self.rate_limit is not None:
            self.rate_limit.acquire(label)

    def take_retry(self) -> bool:
        """Reserve one retry; False when the run's retries or requests are spent."""
        with self._lock:
            if self._retries >= self.retry_limit:
                return False
            if self.run_limit is not None and self._used >= self.run_limit:
                return False
            self._retries += 1
            return True

"""The access check, started before the datasets are read, and the log lines it writes
meanwhile.

The token exchange is sent at once so the service is contacted while the datasets load;
its retry notices ("getToken ...; retry 1 of 4") would then print inside the "Load
datasets" group, where nobody looks for them. The HTTP layer's records from the check's
thread are held until the "Check access" stage opens (`result`), then printed there, in
order; nothing is dropped, and `release` prints them wherever a run ends early.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from ci_trainer.backend_types import AccessCheck

# The logger the HTTP client writes its retry notices to.
HTTP_LOGGER = "ci_trainer.http"


class AccessInBackground(logging.Filter):
    """`call` in a daemon thread; the HTTP log records it writes wait for `result`."""

    def __init__(self, call: Callable[[], AccessCheck]) -> None:
        super().__init__()
        self._pending: Future[AccessCheck] = Future()
        self._lock = threading.Lock()
        self._held: list[logging.LogRecord] = []
        self._released = False
        self._thread = threading.Thread(
            target=self._work, args=(call,), name="ci-trainer-access", daemon=True
        )
        logging.getLogger(HTTP_LOGGER).addFilter(self)
        self._thread.start()

    def _work(self, call: Callable[[], AccessCheck]) -> None:
        try:
            self._pending.set_result(call())
        except BaseException as exc:  # handed to whoever waits on it, not lost
            self._pending.set_exception(exc)

    def filter(self, record: logging.LogRecord) -> bool:
        """Hold the check thread's records until released; let every other one pass."""
        if record.thread != self._thread.ident:
            return True
        with self._lock:
            if not self._released:
                self._held.append(record)
                return False
        return True

    def release(self) -> None:
        """Print what was held (in the stage that is open now) and stop holding."""
        with self._lock:
            if self._released:
                return
            self._released = True
            held, self._held = self._held, []
        logger = logging.getLogger(HTTP_LOGGER)
        logger.removeFilter(self)
        for record in held:
            logger.handle(record)

    def result(self) -> AccessCheck:
        """The check's answer (re-raising what it raised), after printing its held lines."""
        self.release()
        return self._pending.result()

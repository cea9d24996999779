"""Stopping a run in bounded time: the signal handlers, the stop watchdog, deadline calls.

The GitHub runner sends SIGINT when a job is cancelled, SIGTERM 7.5 s later and kills
2.5 s after that. The handlers only set a `stop` event; the pipeline notices it (its
poll wait and retry sleeps wake at once) and winds down. `run_until_stopped` bounds how
long the lifecycle waits for that wind-down, so the webhook and the audit record still
go out before the kill.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("ci_trainer")
# We aim to be gone within 5 s of SIGINT: the pipeline's own wind-down, then at most these.
STOP_GRACE_SECONDS = 1.5
CANCEL_DEADLINE_SECONDS = 1.0


def install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop`; the pipeline cancels the remote job and finishes.

    Returns a function that restores the previous handlers (tests, embedding).
    """

    def handle(signum: int, _frame: FrameType | None) -> None:
        first = not stop.is_set()
        stop.set()  # before anything that could fail
        if first:
            try:
                name = signal.Signals(signum).name
                print(f"ci-trainer: {name} received, stopping", file=sys.stderr, flush=True)
            except (OSError, ValueError):
                pass  # a closed stderr must not turn the stop into a crash

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run_until_stopped(
    work: Callable[[], None], stop: threading.Event, *, grace: float = STOP_GRACE_SECONDS
) -> bool:
    """Run `work` in a worker thread until it returns, or until `grace` seconds after
    `stop` is set; True when it returned.

    A request already in flight cannot be woken by `stop` and may hang until its read
    timeout; the caller then gives up on the worker (it is a daemon thread) and ends
    the run with what it has.
    """
    done = threading.Event()

    def worker() -> None:
        try:
            work()
        finally:
            done.set()

    threading.Thread(target=worker, name="ci-trainer-pipeline", daemon=True).start()
    while not done.is_set() and not stop.is_set():
        try:
            done.wait(0.1)  # short waits keep the main thread's signal handlers live
        except KeyboardInterrupt:  # no handlers installed (library use): same as SIGINT
            stop.set()
    return done.is_set() or done.wait(grace)


def call_with_deadline(call: Callable[[], object], seconds: float) -> object:
    """`call()` in a daemon thread, waiting at most `seconds`; None when late or failed."""
    answer: list[object] = []

    def quietly() -> None:
        try:
            answer.append(call())
        except Exception:
            log.debug("best-effort call failed", exc_info=True)

    worker = threading.Thread(target=quietly, name="ci-trainer-cancel", daemon=True)
    worker.start()
    worker.join(seconds)
    return answer[0] if answer else None

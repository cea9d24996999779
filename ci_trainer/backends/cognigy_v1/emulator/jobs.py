"""One training job's life: QUEUED -> RUNNING -> COMPLETED / FAILED / CANCELLED.

The worker thread does the real computation and records when it finished; the apparent
timeline (what the status endpoint reports) is derived from the clock when someone asks,
so a stretched training (`time_scale`, `training_seconds`) never holds a worker thread.

Apparent timeline. A training's nominal length is `training_seconds` when the emulator
was given one, else its real compute time. It is reported RUNNING until both its real
computation has finished and `time_scale * nominal` seconds have passed since it started.
Progress is monotonic: epochs done over epochs expected (early stopping counted, so a
run that stops at epoch 12 of 50 is not stuck at 24 % before it jumps to 100), scaled
down while a stretch is still to come; then elapsed time over the apparent length. It
reaches 100 only at COMPLETED.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ci_trainer.emulator.faults import Fault
from ci_trainer.emulator.training import TrainingOutcome, TrainingSpec, Usage

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = (
    "QUEUED",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
DEFAULT_FAILURE = "training engine failure: the worker lost its connection to the data store"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Timing:
    """How apparent time relates to real time for every job of one emulator."""

    time_scale: float = 1.0
    training_seconds: float | None = None

    def apparent_seconds(self, compute_seconds: float) -> float:
        nominal = self.training_seconds if self.training_seconds is not None else compute_seconds
        return max(compute_seconds, self.time_scale * nominal)


@dataclass
class Job:
    """The live record of one training; every field is guarded by the service's lock."""

    training_id: str
    model_id: str
    client_id: str
    request: dict[str, Any]
    idempotency_key: str | None
    fault: Fault | None
    created_at: str = field(default_factory=utc_now)
    status: str = QUEUED
    message: str | None = None
    started_at: str | None = None
    updated_at: str = field(default_factory=utc_now)
    started_clock: float | None = None
    epochs_done: int = 0
    epochs_max: int = 1
    compute_seconds: float | None = None
    outcome: TrainingOutcome | None = None
    spec: TrainingSpec | None = None  # what it trained on (kept with its version)
    version_id: str | None = None
    usage: Usage | None = None
    reported_progress: float = 0.0
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def stuck(self) -> bool:
        return self.fault is not None and self.fault.kind == "job_stuck"

    @property
    def doomed(self) -> bool:
        return self.fault is not None and self.fault.kind == "job_failed"

    def start(self, now: float) -> None:
        self.status, self.started_clock, self.started_at = RUNNING, now, utc_now()
        self.touch()

    def finish(self, status: str, message: str | None = None) -> None:
        self.status, self.message = status, message
        self.touch()

    def touch(self) -> None:
        self.updated_at = utc_now()

    def due(self, now: float, timing: Timing) -> str | None:
        """The terminal status this job has reached by `now`, if its computation is done."""
        if self.status != RUNNING or self.compute_seconds is None or self.stuck:
            return None
        elapsed = now - (self.started_clock or now)
        apparent = timing.apparent_seconds(self.compute_seconds)
        if self.doomed:
            at = self.fault.at_progress / 100.0 if self.fault else 0.5
            return FAILED if elapsed >= apparent * at else None
        return COMPLETED if elapsed >= apparent else None

    def progress(self, now: float, timing: Timing) -> float:
        """Percent complete as the status endpoint reports it; never goes backwards."""
        if self.status == COMPLETED:
            return 100.0
        if self.status == RUNNING:
            fraction = self._fraction(now, timing)
            cap = self.fault.at_progress if self.fault and (self.stuck or self.doomed) else 99.0
            self.reported_progress = max(self.reported_progress, min(cap, 99.0, 100.0 * fraction))
        return round(self.reported_progress, 1)

    def _fraction(self, now: float, timing: Timing) -> float:
        elapsed = now - (self.started_clock or now)
        epochs = self.epochs_done / max(self.epochs_max, 1)
        if self.compute_seconds is not None:
            return elapsed / max(timing.apparent_seconds(self.compute_seconds), 1e-9)
        if timing.training_seconds is not None:
            planned = timing.time_scale * timing.training_seconds
            return min(epochs, elapsed / planned) if planned > 0 else epochs
        # Real compute is the nominal length: leave room for the stretch still to come.
        return epochs / max(timing.time_scale, 1.0)

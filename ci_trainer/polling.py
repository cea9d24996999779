"""When to ask a training job for its status next, and the wait loop that asks.

The seed sleeps a fixed 15 s between polls. That is slow for a 20 s job and wasteful for
a 40 min one. `PollSchedule` is a pure function of what the job reported so far:

- it never polls faster than the floor (`training.poll_interval_floor_seconds`; tenants
  want 10 s) and never sleeps past the overall deadline;
- a `Retry-After` from the service wins over any estimate (but not over the floor);
- while the job reports progress, it estimates the finish from the progress rate and
  sleeps a fraction of the remaining time, so the polls close in on the estimate and the
  last one lands just after it (by a small margin) instead of a fixed beat behind it;
- while progress is unknown (queued, or a service that reports none), it backs off
  geometrically from the floor up to a ceiling;
- progress that goes backwards (a restarted worker) rebases the estimate instead of
  producing a negative rate.

`poll_until_final` is the one wait loop, for training jobs and for a backend's own
short Tasks alike (a `Watch` says how to read the thing and what to raise).
`wait_for_job` runs it for a job: it is interruptible through `stop.wait`, raises
`Interrupted` when the runner is cancelled and `PollTimeout` at the deadline. Cancelling
the remote job is the caller's business (it knows the job and the backend).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ci_trainer.backend_types import JobStatus
from ci_trainer.config.model import TrainingSection
from ci_trainer.errors import Interrupted, TrainingFailed

DEFAULT_CEILING_SECONDS = 60.0
# A service that answers a status within a second of the estimate is "on time"; polling
# again sooner than the floor would gain nothing.
_APPROACH_FRACTION = 0.5
_BACKOFF_FACTOR = 1.5
_MARGIN_MIN_SECONDS = 0.3
_MARGIN_FRACTION = 0.01
_MIN_RATE = 1e-9  # progress per second; below this the job would take over 30 years


class PollTimeout(TrainingFailed):
    """The job did not reach a final status before the overall deadline."""

    def __init__(self, waited_seconds: float, timeout_seconds: float) -> None:
        super().__init__(
            f"training did not finish within {_minutes(timeout_seconds)} "
            f"(waited {waited_seconds:.0f} s)",
            hint="raise training.timeout_minutes in the config if trainings legitimately take longer",
        )
        self.waited_seconds = waited_seconds
        self.timeout_seconds = timeout_seconds


def _minutes(seconds: float) -> str:
    minutes = seconds / 60.0
    return f"{minutes:g} min" if minutes >= 1 else f"{seconds:g} s"


@dataclass(frozen=True)
class PollPolicy:
    floor_seconds: float
    timeout_seconds: float
    ceiling_seconds: float = DEFAULT_CEILING_SECONDS
    approach_fraction: float = _APPROACH_FRACTION
    backoff_factor: float = _BACKOFF_FACTOR

    def __post_init__(self) -> None:
        if self.floor_seconds <= 0 or self.timeout_seconds <= 0:
            msg = "floor_seconds and timeout_seconds must be positive"
            raise ValueError(msg)
        if not 0 < self.approach_fraction < 1 or self.backoff_factor < 1:
            msg = "approach_fraction must be in (0, 1) and backoff_factor >= 1"
            raise ValueError(msg)

    @property
    def ceiling(self) -> float:
        # A floor above the default ceiling (a 2 min floor) raises the ceiling with it.
        return max(self.ceiling_seconds, self.floor_seconds)

    @classmethod
    def from_config(cls, training: TrainingSection) -> PollPolicy:
        return cls(
            floor_seconds=training.poll_interval_floor_seconds,
            timeout_seconds=training.timeout_minutes * 60.0,
        )


@dataclass(frozen=True)
class _Sample:
    at: float
    progress: float


class PollSchedule:
    """Pure: feed it observations and clock readings, it says how long to wait."""

    def __init__(
        self, policy: PollPolicy, started_at: float, *, deadline: float | None = None
    ) -> None:
        """`started_at`: when this job started. `deadline`: when the overall timeout ends
        (default `started_at + policy.timeout_seconds`; a retried job shares the first
        one's deadline, so retries never stretch the timeout)."""
        self.policy = policy
        self.started_at = started_at
        self.deadline = deadline if deadline is not None else started_at + policy.timeout_seconds
        self._origin: _Sample | None = None  # first sample of the current progress run
        self._latest: _Sample | None = None
        self._unknown_streak = 0
        self._rebased = False  # progress went backwards at least once

    def observe(self, now: float, progress: float | None) -> None:
        """Record one status answer; `progress` is 0..1 or None when not reported."""
        if progress is not None:
            sample = _Sample(now, min(max(progress, 0.0), 1.0))
            origin = self._origin
            if self._latest is not None and sample.progress < self._latest.progress:
                # Backwards: the service restarted the work. Estimate from here on afresh,
                # once a second sample shows the new pace (when it restarted is unknown).
                self._origin = sample
                self._rebased = True
            elif origin is None or sample.progress == origin.progress:
                # Still on the starting plateau (e.g. queued at 0 %): the work began after
                # this sample at the earliest, so measure the rate from here.
                self._origin = sample
            self._latest = sample
        # No rate (no progress, none yet, or stalled) counts towards the back-off.
        self._unknown_streak = 0 if self._rate() is not None else self._unknown_streak + 1

    def estimated_finish(self) -> float | None:
        """Clock time at which the job should reach 100 %, or None when unknown."""
        rate = self._rate()
        if rate is None or self._latest is None:
            return None
        finish = self._latest.at + (1.0 - self._latest.progress) / rate
        return finish if math.isfinite(finish) else None

    def _rate(self) -> float | None:
        origin, latest = self._origin, self._latest
        if origin is None or latest is None or latest.progress <= 0:
            return None
        rate: float | None = None
        if latest.at > origin.at and latest.progress > origin.progress:
            rate = (latest.progress - origin.progress) / (latest.at - origin.at)
        elif origin is latest and not self._rebased and latest.at > self.started_at:
            # One sample only: assume the progress accrued since the job started (this
            # counts queue time too, so it errs on the side of polling later).
            rate = latest.progress / (latest.at - self.started_at)
        # A rate this small (or a float overflow) says nothing useful about the finish.
        return rate if rate is not None and math.isfinite(rate) and rate > _MIN_RATE else None

    def next_delay(self, now: float, retry_after: float | None = None) -> float:
        """Seconds to wait before the next status request (0 when the deadline is due)."""
        floor = self.policy.floor_seconds
        if retry_after is not None and retry_after > 0:
            delay = max(retry_after, floor)  # the service asked; it may exceed the ceiling
        else:
            delay = min(max(self._planned_delay(now), floor), self.policy.ceiling)
        return max(0.0, min(delay, self.deadline - now))

    def _planned_delay(self, now: float) -> float:
        finish = self.estimated_finish()
        floor = self.policy.floor_seconds
        if finish is None:
            streak = max(self._unknown_streak - 1, 0)
            return floor * self.policy.backoff_factor ** min(streak, 32)
        remaining = finish - now
        if remaining <= 0:
            # Overdue: the estimate was optimistic. Back off in proportion to how late.
            return -remaining * self.policy.approach_fraction
        step = remaining * self.policy.approach_fraction
        if step >= floor:
            return step
        # Close to the estimate, jump to it rather than creeping up in floor steps - and a
        # little past it: a poll that lands a hair early (RUNNING 99 %) costs a whole floor
        # before the next one, a margin only the margin.
        return remaining + self._margin(finish, floor)

    def _margin(self, finish: float, floor: float) -> float:
        # The estimate's error grows with the job's length: 1 % of it, at least 0.3 s, but
        # never more than half a floor (then being early is the cheaper mistake).
        span = finish - self.started_at
        return min(max(_MARGIN_MIN_SECONDS, _MARGIN_FRACTION * span), floor / 2)

    def timed_out(self, now: float) -> bool:
        return now >= self.deadline

    def timeout_error(self, now: float) -> PollTimeout:
        timeout = self.policy.timeout_seconds
        return PollTimeout(now - (self.deadline - timeout), timeout)


Observed = TypeVar("Observed")


@dataclass(frozen=True)
class Watch(Generic[Observed]):
    """One thing being waited on: how to read it, whether an answer is final, and what to
    raise when the wait ends without one (a training job, a v2 Task, ...)."""

    fetch: Callable[[], Observed]
    final: Callable[[Observed], bool]
    progress: Callable[[Observed], float | None]
    interrupted: Callable[[], Exception]
    timed_out: Callable[[float], Exception]  # given the clock reading at the deadline
    retry_after: Callable[[Observed], float | None] = lambda _answer: None


def poll_until_final(
    watch: Watch[Observed],
    schedule: PollSchedule,
    *,
    sleep: Callable[[float], bool],
    stopping: Callable[[], bool],
    on_answer: Callable[[Observed], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Observed:
    """The one polling loop: read, stop when final, else sleep as `schedule` says.

    `sleep(seconds)` returns True when the run is stopping; `stopping()` is checked before
    each read, so no request goes out after a stop. Nothing is read past the deadline.
    Errors from `watch.fetch` propagate.
    """
    while True:
        if stopping():
            raise watch.interrupted()
        answer = watch.fetch()
        now = clock()
        schedule.observe(now, watch.progress(answer))
        if on_answer is not None:
            on_answer(answer)
        if watch.final(answer):
            return answer
        if schedule.timed_out(now):
            raise watch.timed_out(now)
        if sleep(schedule.next_delay(now, watch.retry_after(answer))):
            raise watch.interrupted()
        waited = clock()
        if schedule.timed_out(waited):
            raise watch.timed_out(waited)


def wait_for_job(
    fetch_status: Callable[[], JobStatus],
    schedule: PollSchedule,
    *,
    stop: threading.Event,
    on_status: Callable[[JobStatus], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> JobStatus:
    """Poll until the job is final. Raises `Interrupted` on stop, `PollTimeout` at the deadline.

    Service errors (`ApiError`, including `ContractError` for a status value outside the
    contract) propagate: an unknown status is an error, not a reason to keep polling.
    """
    watch = Watch(
        fetch=fetch_status,
        final=lambda status: status.state.terminal,
        progress=lambda status: status.progress,
        interrupted=_interrupted,
        timed_out=schedule.timeout_error,
        retry_after=lambda status: status.retry_after_seconds,
    )
    return poll_until_final(
        watch, schedule, sleep=stop.wait, stopping=stop.is_set, on_answer=on_status, clock=clock
    )


def _interrupted() -> Interrupted:
    return Interrupted(
        "the run was cancelled (SIGINT/SIGTERM) while waiting for the training",
        hint="the remote job is cancelled where the service supports it",
    )

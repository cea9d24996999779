"""Waiting for a v2 Task (an import or a snapshot step) through the shared poll loop.

Such Tasks are short, so they are polled at a fixed pace (`task_poll_seconds`) rather
than on a training's adaptive schedule, and a Task that outlives its timeout, or the
run, is cancelled before the wait gives up. What a done Task leaves behind may show a
little later (an uploaded snapshot in the list, C7): `until_found` reads it at the same
pace, a bounded number of times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.options import V2Options
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.errors import ApiError, Interrupted, TrainingFailed
from ci_trainer.polling import PollPolicy, PollSchedule, Watch, poll_until_final

Found = TypeVar("Found")


class TaskWaits:
    """Waits for the Tasks of one backend: its client, pace, timeout and `wait` (which
    sleeps and returns True when the run is stopping)."""

    def __init__(
        self,
        client: CognigyV2Client,
        options: V2Options,
        *,
        wait: Callable[[float], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._options = options
        self._wait = wait
        self._clock = clock

    def _schedule(self) -> PollSchedule:
        pace = self._options.task_poll_seconds
        timeout = self._options.task_timeout_seconds
        # A ceiling equal to the floor makes the schedule a fixed beat, capped at the deadline.
        policy = PollPolicy(floor_seconds=pace, timeout_seconds=timeout, ceiling_seconds=pace)
        return PollSchedule(policy, self._clock())

    def wait(self, task: Task, what: str) -> Task:
        """Poll a Task until it is final; cancel it and fail at the timeout or a stop.

        `what` names the step in the error ("importing shop.json into Shop/en").
        """
        timeout = self._options.task_timeout_seconds
        answers = iter([task])  # the created Task is the first answer: no read for it

        def fetch() -> Task:
            return next(answers, None) or self._client.read_task(task.id)

        def interrupted() -> Exception:
            self.cancel_quietly(task)
            return Interrupted(f"cancelled while {what}", hint="the runner asked the job to stop")

        def timed_out(_now: float) -> Exception:
            self.cancel_quietly(task)
            return TrainingFailed(
                f"{what} did not finish within {timeout:g} s",
                hint="raise cognigy_v2.task_timeout_minutes if the tenant is slow",
            )

        watch = Watch(
            fetch=fetch,
            final=lambda answer: answer.terminal,
            progress=lambda answer: answer.progress,
            interrupted=interrupted,
            timed_out=timed_out,
        )
        return poll_until_final(
            watch,
            self._schedule(),
            sleep=self._wait,
            # The stop is seen through `wait` (as for every wait of this backend), so a
            # Task that is already final is returned even after a stop.
            stopping=lambda: False,
            clock=self._clock,
        )

    def cancel_quietly(self, task: Task) -> None:
        """Ask the service to cancel; a refusal changes nothing about why the run ends."""
        try:
            self._client.cancel_task(task.id)
        except ApiError:
            return

    def until_found(self, read: Callable[[], Found | None], what: str, reads: int) -> Found | None:
        """`read()` at the Task pace until it finds something, at most `reads` times (the
        bound is a count, so a slow service does not shorten it); None if it never did."""
        timeout = self._options.task_timeout_seconds
        count = 0

        def fetch() -> Found | None:
            nonlocal count
            count += 1
            return read()

        def timed_out(_now: float) -> Exception:
            return TrainingFailed(
                f"{what} did not finish within {timeout:g} s",
                hint="raise cognigy_v2.task_timeout_minutes if the tenant is slow",
            )

        watch: Watch[Found | None] = Watch(
            fetch=fetch,
            final=lambda answer: answer is not None or count >= reads,
            progress=lambda _answer: None,
            interrupted=lambda: Interrupted(
                f"cancelled while {what}", hint="the runner asked the job to stop"
            ),
            timed_out=timed_out,
        )
        return poll_until_final(
            watch, self._schedule(), sleep=self._wait, stopping=lambda: False, clock=self._clock
        )

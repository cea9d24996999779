"""The poll schedule (pure) and the wait loop, on a simulated clock: no real sleeping."""

from __future__ import annotations

import itertools
import math
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_trainer.backend_types import JobState, JobStatus
from ci_trainer.config.model import TrainingSection
from ci_trainer.errors import ContractError, Interrupted
from ci_trainer.polling import PollPolicy, PollSchedule, PollTimeout, wait_for_job


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SimulatedStop(threading.Event):
    """An Event whose wait() advances the fake clock instead of sleeping."""

    def __init__(self, clock: FakeClock, set_after: float | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.set_after = set_after
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        if self.set_after is not None and self.clock.now + timeout >= self.set_after:
            self.clock.now = self.set_after
            self.set()
            return True
        self.clock.now += timeout
        return self.is_set()


def running(progress: float | None, retry_after: float | None = None) -> JobStatus:
    return JobStatus(
        state=JobState.RUNNING,
        raw_status="RUNNING",
        progress=progress,
        retry_after_seconds=retry_after,
    )


def done() -> JobStatus:
    return JobStatus(state=JobState.COMPLETED, raw_status="COMPLETED", progress=1.0)


def linear_job(clock: FakeClock, duration: float, queued: float = 0.0) -> list[float]:
    """A job whose progress grows linearly after `queued` seconds; returns poll times."""
    polls: list[float] = []

    def fetch() -> JobStatus:
        polls.append(clock.now)
        if clock.now < queued:
            return JobStatus(state=JobState.QUEUED, raw_status="QUEUED", progress=0.0)
        progress = (clock.now - queued) / duration
        return done() if progress >= 1.0 else running(progress)

    stop = SimulatedStop(clock)
    schedule = PollSchedule(PollPolicy(floor_seconds=1.0, timeout_seconds=3600), clock())
    final = wait_for_job(fetch, schedule, stop=stop, clock=clock)
    assert final.state is JobState.COMPLETED
    return polls


def test_policy_from_config_uses_floor_and_timeout() -> None:
    training = TrainingSection(poll_interval_floor_seconds=2.5, timeout_minutes=3)
    policy = PollPolicy.from_config(training)
    assert policy.floor_seconds == 2.5
    assert policy.timeout_seconds == 180.0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"floor_seconds": 0, "timeout_seconds": 10}, "positive"),
        ({"floor_seconds": 1, "timeout_seconds": -1}, "positive"),
        ({"floor_seconds": 1, "timeout_seconds": 10, "approach_fraction": 1.0}, "approach"),
        ({"floor_seconds": 1, "timeout_seconds": 10, "backoff_factor": 0.5}, "backoff"),
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        PollPolicy(**kwargs)


def test_single_sample_estimates_from_job_start() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 600), started_at=100.0)
    schedule.observe(110.0, 0.25)
    assert schedule.estimated_finish() == pytest.approx(140.0)


def test_two_samples_estimate_from_the_rate_between_them() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 600), started_at=0.0)
    schedule.observe(30.0, 0.0)  # queue time must not slow the estimate down
    schedule.observe(40.0, 0.2)
    schedule.observe(50.0, 0.4)
    assert schedule.estimated_finish() == pytest.approx(80.0)


def test_far_from_the_estimate_it_sleeps_a_fraction_of_the_remaining_time() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 600), started_at=0.0)
    schedule.observe(10.0, 0.1)  # finish estimated at 100 s
    assert schedule.next_delay(10.0) == pytest.approx(45.0)


def test_near_the_estimate_it_jumps_just_past_it() -> None:
    schedule = PollSchedule(PollPolicy(2.0, 600), started_at=0.0)
    schedule.observe(97.0, 0.97)  # finish estimated at 100 s; half of 3 s is below the floor
    # 3 s to the estimate plus a margin of 1 % of the 100 s job.
    assert schedule.next_delay(97.0) == pytest.approx(4.0)


def test_the_margin_is_at_least_0_3_s_and_at_most_half_a_floor() -> None:
    short = PollSchedule(PollPolicy(1.0, 600), started_at=0.0)
    short.observe(9.0, 0.9)  # a 10 s job: 1 % would be 0.1 s
    assert short.next_delay(9.0) == pytest.approx(1.0 + 0.3)
    long = PollSchedule(PollPolicy(1.0, 7200), started_at=0.0)
    long.observe(3599.0, 3599.0 / 3600.0)  # a 1 h job: 1 % would be 36 s
    assert long.next_delay(3599.0) == pytest.approx(1.0 + 0.5)


def test_never_faster_than_the_floor_even_right_at_the_estimate() -> None:
    schedule = PollSchedule(PollPolicy(5.0, 600), started_at=0.0)
    schedule.observe(99.0, 0.99)
    assert schedule.next_delay(99.0) == 5.0


def test_overdue_backs_off_in_proportion_to_lateness() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 600), started_at=0.0)
    schedule.observe(10.0, 0.5)  # estimate 20 s
    assert schedule.next_delay(21.0) == 1.0  # 1 s late -> floor
    assert schedule.next_delay(50.0) == pytest.approx(15.0)  # 30 s late -> half of it


def test_ceiling_caps_long_estimates() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 24 * 3600, ceiling_seconds=60.0), started_at=0.0)
    schedule.observe(10.0, 0.001)
    assert schedule.next_delay(10.0) == 60.0


def test_floor_above_ceiling_raises_the_ceiling() -> None:
    schedule = PollSchedule(PollPolicy(120.0, 3600, ceiling_seconds=60.0), started_at=0.0)
    schedule.observe(1.0, None)
    assert schedule.next_delay(1.0) == 120.0


def test_retry_after_wins_over_the_estimate() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 600), started_at=0.0)
    schedule.observe(10.0, 0.9)
    assert schedule.next_delay(10.0, retry_after=30.0) == 30.0


def test_retry_after_below_the_floor_is_raised_to_the_floor() -> None:
    schedule = PollSchedule(PollPolicy(10.0, 600), started_at=0.0)
    schedule.observe(1.0, None)
    assert schedule.next_delay(1.0, retry_after=0.5) == 10.0


def test_retry_after_may_exceed_the_ceiling() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 600, ceiling_seconds=60.0), started_at=0.0)
    assert schedule.next_delay(0.0, retry_after=90.0) == 90.0


def test_unknown_progress_backs_off_geometrically_up_to_the_ceiling() -> None:
    schedule = PollSchedule(PollPolicy(2.0, 3600, ceiling_seconds=10.0), started_at=0.0)
    delays = []
    now = 0.0
    for _ in range(7):
        schedule.observe(now, None)
        delay = schedule.next_delay(now)
        delays.append(delay)
        now += delay
    assert delays == pytest.approx([2.0, 3.0, 4.5, 6.75, 10.0, 10.0, 10.0])


def test_stalled_progress_backs_off_like_unknown() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 3600), started_at=0.0)
    schedule.observe(0.0, 0.0)
    schedule.observe(1.0, 0.0)
    schedule.observe(2.5, 0.0)
    assert schedule.estimated_finish() is None
    assert schedule.next_delay(2.5) == pytest.approx(2.25)


def test_progress_going_backwards_rebases_the_estimate() -> None:
    schedule = PollSchedule(PollPolicy(1.0, 3600), started_at=0.0)
    schedule.observe(10.0, 0.5)
    schedule.observe(20.0, 0.6)
    schedule.observe(30.0, 0.1)  # the worker restarted, at an unknown moment
    assert schedule.estimated_finish() is None
    assert schedule.next_delay(30.0) == 1.0  # so poll again soon to learn the new pace
    schedule.observe(40.0, 0.3)  # 2 % per second since the restart
    assert schedule.estimated_finish() == pytest.approx(75.0)
    assert schedule.next_delay(40.0) == pytest.approx(17.5)


def test_never_sleeps_past_the_deadline() -> None:
    schedule = PollSchedule(PollPolicy(5.0, 100), started_at=0.0)
    schedule.observe(98.0, None)
    assert schedule.next_delay(98.0) == pytest.approx(2.0)
    assert schedule.next_delay(101.0) == 0.0
    assert schedule.timed_out(100.0)
    assert not schedule.timed_out(99.9)


observations = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=50.0),  # time step
        st.one_of(st.none(), st.floats(min_value=-0.5, max_value=1.5)),  # progress
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=200.0)),  # Retry-After
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(floor=st.floats(min_value=0.1, max_value=30.0), steps=observations)
def test_delay_always_between_floor_and_deadline(
    floor: float, steps: list[tuple[float, float | None, float | None]]
) -> None:
    timeout = 1000.0
    schedule = PollSchedule(PollPolicy(floor, timeout), started_at=0.0)
    now = 0.0
    for step, progress, retry_after in steps:
        now += step
        schedule.observe(now, progress)
        delay = schedule.next_delay(now, retry_after)
        to_deadline = max(0.0, timeout - now)
        assert delay <= to_deadline + 1e-9
        assert delay >= min(floor, to_deadline) - 1e-9
        finish = schedule.estimated_finish()
        assert finish is None or math.isfinite(finish)


def test_a_linear_job_is_polled_few_times_and_seen_soon_after_it_ends() -> None:
    clock = FakeClock()
    polls = linear_job(clock, duration=300.0, queued=20.0)
    true_end = 320.0
    assert polls[-1] >= true_end
    # The seed's fixed 15 s beat takes 22 polls and sees the end up to 15 s late; polling
    # at the 1 s floor would take 320.
    assert polls[-1] - true_end <= 2.0
    assert len(polls) <= 18


def test_a_long_job_is_polled_at_most_once_a_minute_until_near_the_end() -> None:
    clock = FakeClock()
    polls = linear_job(clock, duration=3000.0)
    assert polls[-1] - 3000.0 <= 2.0
    assert max(b - a for a, b in itertools.pairwise(polls)) <= 60.0
    assert len(polls) <= 60  # the seed's 15 s beat: 200 polls


def test_consecutive_polls_respect_the_floor_in_the_loop() -> None:
    clock = FakeClock()
    polls = linear_job(clock, duration=30.0)
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert min(gaps) >= 1.0 - 1e-9


def test_wait_reports_every_status_and_returns_the_final_one() -> None:
    clock = FakeClock()
    answers = iter([running(None), running(0.5), done()])
    seen: list[JobStatus] = []
    schedule = PollSchedule(PollPolicy(1.0, 600), clock())
    final = wait_for_job(
        lambda: next(answers),
        schedule,
        stop=SimulatedStop(clock),
        on_status=seen.append,
        clock=clock,
    )
    assert final.state is JobState.COMPLETED
    assert [s.progress for s in seen] == [None, 0.5, 1.0]


def test_wait_honours_retry_after_from_the_status() -> None:
    clock = FakeClock()
    answers = iter([running(0.1, retry_after=42.0), done()])
    stop = SimulatedStop(clock)
    wait_for_job(
        lambda: next(answers), PollSchedule(PollPolicy(1.0, 600), 0.0), stop=stop, clock=clock
    )
    assert stop.waits == [42.0]


def test_a_job_stuck_running_times_out() -> None:
    clock = FakeClock()
    stop = SimulatedStop(clock)
    schedule = PollSchedule(PollPolicy(1.0, 120.0), clock())
    with pytest.raises(PollTimeout) as caught:
        wait_for_job(lambda: running(0.5), schedule, stop=stop, clock=clock)
    assert clock.now == pytest.approx(120.0)
    assert "within 2 min" in str(caught.value)
    assert "training.timeout_minutes" in str(caught.value)


def test_stop_during_the_wait_interrupts() -> None:
    clock = FakeClock()
    stop = SimulatedStop(clock, set_after=5.0)
    calls = []

    def fetch() -> JobStatus:
        calls.append(clock.now)
        return running(None)

    with pytest.raises(Interrupted):
        wait_for_job(fetch, PollSchedule(PollPolicy(1.0, 600), 0.0), stop=stop, clock=clock)
    assert clock.now == 5.0
    assert calls[-1] < 5.0  # no status request after the stop


def test_stop_already_set_makes_no_request() -> None:
    stop = threading.Event()
    stop.set()

    def fetch() -> JobStatus:
        raise AssertionError("must not poll after stop")

    with pytest.raises(Interrupted):
        wait_for_job(fetch, PollSchedule(PollPolicy(1.0, 600), 0.0), stop=stop)


def test_a_contract_error_from_the_status_call_ends_the_wait() -> None:
    def fetch() -> JobStatus:
        raise ContractError(
            call="getTrainingStatus", message_text="unknown training status 'PAUSED'"
        )

    clock = FakeClock()
    with pytest.raises(ContractError, match="PAUSED"):
        wait_for_job(
            fetch, PollSchedule(PollPolicy(1.0, 600), 0.0), stop=SimulatedStop(clock), clock=clock
        )


def test_real_event_wait_returns_promptly_when_set_from_another_thread() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    try:
        with pytest.raises(Interrupted):
            wait_for_job(
                lambda: running(None),
                PollSchedule(PollPolicy(30.0, 600), time.monotonic()),
                stop=stop,
            )
    finally:
        timer.cancel()


def test_a_shared_deadline_bounds_a_later_job() -> None:
    # A retried job starts at 80 s of a 100 s overall timeout: 20 s are left, not 100.
    schedule = PollSchedule(PollPolicy(5.0, 100.0), started_at=80.0, deadline=100.0)
    schedule.observe(95.0, None)
    assert schedule.next_delay(95.0) == pytest.approx(5.0)
    assert schedule.next_delay(98.0) == pytest.approx(2.0)
    assert schedule.timed_out(100.0)
    error = schedule.timeout_error(100.0)
    assert error.waited_seconds == pytest.approx(100.0)  # measured from the overall start
    assert str(error).startswith("training did not finish within 1.66667 min (waited 100 s)")

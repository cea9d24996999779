"""The apparent timeline of a job, on an explicit clock (no sleeping, no threads)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ci_trainer.backends.cognigy_v1.emulator.jobs import COMPLETED, FAILED, RUNNING, Job, Timing
from ci_trainer.emulator.faults import Fault


def _job(fault: Fault | None = None) -> Job:
    job = Job("trn-1", "m", "client", {}, None, fault)
    job.start(100.0)
    return job


def test_apparent_length_is_the_longer_of_compute_and_scaled_nominal() -> None:
    assert Timing().apparent_seconds(2.0) == 2.0
    assert Timing(time_scale=5).apparent_seconds(2.0) == 10.0
    assert Timing(time_scale=0).apparent_seconds(2.0) == 2.0
    assert Timing(training_seconds=60).apparent_seconds(2.0) == 60.0
    assert Timing(time_scale=0.1, training_seconds=60).apparent_seconds(2.0) == 6.0
    assert Timing(training_seconds=1).apparent_seconds(3.0) == 3.0  # never before compute


def test_completion_is_due_only_after_compute_and_the_apparent_length() -> None:
    timing = Timing(training_seconds=60)
    job = _job()
    assert job.due(200.0, timing) is None  # still computing
    job.compute_seconds = 2.0
    assert job.due(159.9, timing) is None
    assert job.due(160.0, timing) == COMPLETED


def test_stuck_jobs_never_finish_and_doomed_ones_fail_at_their_progress() -> None:
    stuck = _job(Fault("startTraining", "job_stuck"))
    stuck.compute_seconds = 1.0
    assert stuck.due(1e9, Timing()) is None
    doomed = _job(Fault("startTraining", "job_failed", at_progress=25))
    doomed.compute_seconds = 1.0
    timing = Timing(training_seconds=40)
    assert doomed.due(109.9, timing) is None
    assert doomed.due(110.0, timing) == FAILED


def test_progress_while_computing_leaves_room_for_the_stretch() -> None:
    job = _job()
    job.epochs_done, job.epochs_max = 5, 10
    assert job.progress(101.0, Timing()) == 50.0
    assert _with_epochs(_job(), 5, 10).progress(101.0, Timing(time_scale=4)) == 12.5


def _with_epochs(job: Job, done: int, expected: int) -> Job:
    job.epochs_done, job.epochs_max = done, expected
    return job


@settings(max_examples=200, deadline=None)
@given(
    scale=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    nominal=st.sampled_from([None, 0.5, 5.0]),
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=3.0),  # clock advance
            st.integers(min_value=0, max_value=3),  # epochs finished meanwhile
            st.integers(min_value=-2, max_value=5),  # change of the expected total
            st.booleans(),  # computation finishes now
        ),
        max_size=25,
    ),
)
def test_progress_never_goes_backwards_and_is_100_only_when_completed(
    scale: float, nominal: float | None, steps: list[tuple[float, int, int, bool]]
) -> None:
    timing = Timing(time_scale=scale, training_seconds=nominal)
    job = _job()
    now, last = 100.0, 0.0
    for advance, epochs, change, finish in steps:
        now += advance
        job.epochs_done += epochs
        job.epochs_max = max(job.epochs_done, job.epochs_max + change, 1)
        if finish and job.compute_seconds is None:
            job.compute_seconds = now - 100.0
        if job.due(now, timing) == COMPLETED:
            job.finish(COMPLETED)
        progress = job.progress(now, timing)
        assert progress >= last
        assert (progress == 100.0) == (job.status == COMPLETED)
        last = progress
    assert job.status in (RUNNING, COMPLETED)

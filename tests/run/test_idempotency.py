"""One CI attempt trains once; a new attempt or a local rerun trains again; rate limits."""

from __future__ import annotations

from ci_trainer.decision import Decision
from ci_trainer.emulator.ratelimit import RateLimit

from .conftest import Harness

GITHUB_RUN = {
    "GITHUB_REPOSITORY": "acme/support-bot",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_RUN_ID": "9001",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_EVENT_NAME": "pull_request",
}


def test_the_same_ci_attempt_run_twice_attaches_to_one_training(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    first = harness.run(config, emu, env=GITHUB_RUN)
    again = harness.run(config, emu, env=GITHUB_RUN)
    assert first.decision is again.decision is Decision.APPROVED
    assert again.training_id == first.training_id
    assert len(emu.state.trainings) == 1
    assert [r.status for r in emu.state.requests_for("startTraining")] == [202, 200]
    assert first.provenance.run_id == "9001"


def test_a_new_run_attempt_trains_again(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    first = harness.run(config, emu, env=GITHUB_RUN)
    rerun = harness.run(config, emu, env=GITHUB_RUN | {"GITHUB_RUN_ATTEMPT": "2"})
    assert rerun.training_id != first.training_id
    assert len(emu.state.trainings) == 2


def test_local_runs_without_ci_variables_train_every_time(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    first = harness.run(config, emu)
    second = harness.run(config, emu)
    assert first.attempts[0].idempotency_key != second.attempts[0].idempotency_key
    assert len(emu.state.trainings) == 2


def test_a_rate_limited_service_still_completes_the_run(harness: Harness) -> None:
    config = harness.project()
    # A burst of 3: the token, stats and production calls use it up, then 429s follow.
    emu = harness.emulator(
        config, rate_limit=RateLimit(rate=5, burst=3), training_seconds=0.6, time_scale=1.0
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert 429 in {r.status for r in emu.state.requests}

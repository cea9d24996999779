"""The run's RequestBudget and its RateLimit (no network)."""

from __future__ import annotations

import pytest

from ci_trainer.errors import ApiError, Interrupted
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.rate_limit import RateLimit


def test_every_attempt_counts_and_the_run_limit_refuses_the_next() -> None:
    budget = RequestBudget(run_limit=2)
    budget.take_request("a")
    budget.take_request("b")
    assert budget.used == 2
    with pytest.raises(ApiError, match="request budget of 2 requests is spent"):
        budget.take_request("c")


def test_retries_are_shared_and_end_when_spent() -> None:
    budget = RequestBudget(retry_limit=2)
    assert budget.take_retry() and budget.take_retry()
    assert not budget.take_retry()
    assert budget.retries_left == 0


def test_no_retry_is_granted_when_no_request_is_left_for_it() -> None:
    budget = RequestBudget(run_limit=1)
    budget.take_request("a")
    assert not budget.take_retry()


def test_the_rate_limit_delays_but_never_refuses() -> None:
    now = [0.0]
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        now[0] += seconds
        return False

    limit = RateLimit(2, 60.0, clock=lambda: now[0], wait=wait)
    for _ in range(5):
        limit.acquire("call")
    assert waits == [60.0, 60.0]


def test_a_stop_while_waiting_for_the_window_interrupts() -> None:
    budget = RequestBudget(window_limit=1, clock=lambda: 0.0, wait=lambda seconds: True)
    budget.take_request("first")
    with pytest.raises(Interrupted, match="waiting for the request budget before second"):
        budget.take_request("second")

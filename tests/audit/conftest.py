"""Fixtures of the audit tests."""

from __future__ import annotations

import pytest

from ci_trainer.result import RunResult

from .runs import ALL_RESULTS


@pytest.fixture(params=sorted(ALL_RESULTS))
def any_result(request: pytest.FixtureRequest) -> RunResult:
    """One realistic RunResult per decision value."""
    return ALL_RESULTS[request.param]()

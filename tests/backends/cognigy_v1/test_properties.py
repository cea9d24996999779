"""Property tests of the policy's pure parts: Retry-After parsing, backoff bounds, margins."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from ci_trainer.http.client import HttpClient
from ci_trainer.http.policy import RetryPolicy, parse_retry_after
from ci_trainer.http.token_refresh import refresh_margin
from ci_trainer.redact import Redactor

NOW = datetime(2026, 11, 26, 21, 0, 0, tzinfo=timezone.utc)


@given(st.integers(min_value=0, max_value=10**7))
def test_delta_seconds_are_taken_as_given(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == seconds


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_http_dates_give_the_seconds_until_then_never_negative(offset: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(header, NOW) == max(0, offset)


@given(st.text(max_size=40))
def test_any_header_text_parses_or_is_ignored(text: str) -> None:
    value = parse_retry_after(text, NOW)
    assert value is None or value >= 0


@given(
    attempt=st.integers(min_value=1, max_value=60),
    base=st.floats(min_value=0.01, max_value=5),
    cap=st.floats(min_value=0.01, max_value=120),
    seed=st.integers(),
)
def test_backoff_stays_within_full_jitter_bounds(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    http = HttpClient(
        "http://127.0.0.1:9/api/v1",
        redactor=Redactor(),
        policy=RetryPolicy(backoff_base=base, backoff_cap=cap),
        rng=random.Random(seed),
    )
    try:
        delay = http._backoff(attempt)
    finally:
        http.close()
    assert 0.0 <= delay <= min(cap, base * 2 ** (attempt - 1))


@given(st.floats(min_value=0.001, max_value=10**7, allow_nan=False))
def test_refresh_margin_leaves_most_of_the_lifetime(lifetime: float) -> None:
    margin = refresh_margin(lifetime)
    assert 0 < margin <= 300
    assert lifetime - margin >= 0.9 * lifetime - 1e-9

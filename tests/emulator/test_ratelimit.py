"""The emulators' rate limits: the token bucket (429 with Retry-After once a client's
bucket is empty) and the sliding window of the v2 personality."""

from __future__ import annotations

import pytest
import requests

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.ratelimit import RateLimit, SlidingWindow, TokenBuckets

from .conftest import DATASETS, ApiClient, check_response


def test_burst_then_429_with_retry_after() -> None:
    with Emulator(DATASETS, rate_limit=RateLimit(rate=0.01, burst=3)) as emu:
        api = ApiClient(emu)
        api.token()  # 1 of 3
        assert api.stats("ds-cs").status_code == 200  # 2
        assert api.stats("ds-smalltalk").status_code == 200  # 3
        limited = api.stats("ds-cs")
        body = check_response("getDatasetStats", limited)
        assert body["status"] == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert [r.status for r in emu.state.requests][-1] == 429


def test_limit_is_per_client() -> None:
    with Emulator(DATASETS, rate_limit=RateLimit(rate=0.01, burst=2)) as emu:
        api = ApiClient(emu)
        api.token()
        api.stats("ds-cs")
        assert api.stats("ds-cs").status_code == 429
        # A caller without a token is another bucket: it gets its 401, not the 429.
        anonymous = requests.get(f"{emu.base_url}/datasets/ds-cs/stats", timeout=10)
        assert check_response("getDatasetStats", anonymous)["status"] == 401


def test_no_limit_by_default(api: ApiClient) -> None:
    assert {api.stats("ds-cs").status_code for _ in range(40)} == {200}


def test_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(RateLimit(rate=2, burst=2), clock=lambda: now[0])
    assert buckets.take("a") == 0
    assert buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back every 0.5 s
    assert buckets.take("b") == 0  # another client, a full bucket
    now[0] = 0.5
    assert buckets.take("a") == 0
    now[0] = 100.0
    first, second, third = (buckets.take("a") for _ in range(3))
    assert (first, second) == (0, 0)
    assert third > 0  # a long pause refills up to the burst, no further


def test_rate_limit_parse() -> None:
    assert RateLimit.parse("5/10") == RateLimit(rate=5, burst=10)
    assert RateLimit.parse("2.5") == RateLimit(rate=2.5, burst=3)
    for bad in ("fast", "5/x", "0/1", "1/0"):
        with pytest.raises(ValueError, match="rate"):
            RateLimit.parse(bad)


def test_the_sliding_window_counts_every_sender_and_frees_a_slot_as_it_slides() -> None:
    now = [100.0]
    window = SlidingWindow(limit=2, seconds=10.0, clock=lambda: now[0])
    assert window.take("a") == 0.0
    now[0] = 104.0
    assert window.take("b") == 0.0  # the window is shared: any sender counts
    assert window.take("a") == pytest.approx(6.0)  # until the first request leaves it
    now[0] = 110.0
    assert window.take("a") == 0.0
    assert window.take("a") == pytest.approx(4.0)

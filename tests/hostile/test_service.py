"""The HTTP layer against a hostile training service over real HTTP (issue 14, items
1, 2, 3 and 5): every answer ends within its deadline and its size cap, every figure
comes from strict JSON, and no Retry-After makes the run sleep past the cap."""

from __future__ import annotations

import threading
import time

import pytest

from ci_trainer.backends.cognigy_v1.decode import json_body
from ci_trainer.backends.cognigy_v2.wire import json_of
from ci_trainer.errors import ApiError, ContractError, Interrupted
from ci_trainer.http.client import Call, HttpClient, HttpResponse
from ci_trainer.http.policy import RetryMode, RetryPolicy
from ci_trainer.http.status import error_from_response
from ci_trainer.polling import PollPolicy, PollSchedule, Watch, poll_until_final
from ci_trainer.redact import Redactor
from hostile.probe import measure
from hostile.server import BOMB_MEMBER, BOMB_MEMBERS, DRIP_SECONDS, HOURS, HostileServer

FAILED_EXIT = 3


def _client(
    server: HostileServer, stop: threading.Event | None = None, **policy: float
) -> HttpClient:
    rules = RetryPolicy(jitter=False, backoff_base=0.01, **policy)  # type: ignore[arg-type]
    return HttpClient(server.url, redactor=Redactor(["s3cret-value"]), stop=stop, policy=rules)


def _get(client: HttpClient, path: str) -> HttpResponse:
    return client.send(Call("getTrainingStatus", "GET", path), retry=RetryMode.SAFE)


# ----------------------------------------------------------------- item 1: deadlines


def test_a_dripping_body_ends_at_the_deadline_not_at_the_end_of_the_drip(
    hostile: HostileServer,
) -> None:
    # The drip takes about a minute in all; every read succeeds within the read timeout.
    client = _client(hostile, request_deadline=1.5, read_timeout=30.0)
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        _get(client, "/drip")
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 3.0, elapsed
    error = caught.value
    assert "no complete answer" in error.message_text
    assert "1.5 s deadline" in error.message_text
    assert "(after 1 attempt)" in error.message_text  # the same drip is not waited for again
    assert error.call == "getTrainingStatus (GET /drip)"
    assert error.exit_code == FAILED_EXIT
    assert DRIP_SECONDS < 1.0  # the read timeout alone would never end it


def test_the_stop_flag_ends_a_request_waiting_for_headers_within_a_second(
    hostile: HostileServer,
) -> None:
    stop = threading.Event()
    client = _client(hostile, stop, read_timeout=30.0)
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Interrupted, match="cancelled while calling getTrainingStatus"):
        _get(client, "/silent")
    assert time.monotonic() - started < 1.5


def test_the_stop_flag_ends_a_dripping_body_within_a_second(hostile: HostileServer) -> None:
    stop = threading.Event()
    client = _client(hostile, stop, read_timeout=30.0)
    threading.Timer(0.8, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Interrupted):
        _get(client, "/drip")
    assert time.monotonic() - started < 1.8


# ----------------------------------------------------------------- item 2: size caps


def _probe(kind: str, url: str) -> dict[str, object]:
    return measure(kind, url, timeout=120)


def test_a_gzip_bomb_is_refused_after_the_cap_and_memory_stays_flat(
    hostile: HostileServer,
) -> None:
    assert BOMB_MEMBER * BOMB_MEMBERS == 1024**3  # 1 GiB once decoded
    outcome = _probe("service", hostile.url)
    error = str(outcome["error"])
    assert "refused: answer larger than 64 MiB" in error, error
    assert "decoded past the cap" in error
    grown_mib = (int(str(outcome["peak_after_kib"])) - int(str(outcome["peak_before_kib"]))) / 1024
    assert grown_mib < 200, f"peak memory grew {grown_mib:.0f} MiB under a 1 GiB bomb"
    assert float(str(outcome["seconds"])) < 10


def test_a_declared_oversized_body_is_refused_before_it_is_read(hostile: HostileServer) -> None:
    client = _client(hostile, max_body_bytes=1024 * 1024)
    started = time.monotonic()
    with pytest.raises(ApiError, match=r"larger than 1 MiB \(Content-Length 5242880\)"):
        _get(client, "/big-error")
    assert time.monotonic() - started < 2


def test_a_bomb_on_the_wire_cap_is_refused_without_gzip_too(hostile: HostileServer) -> None:
    # 1 MB of compressed bomb exceeds a 512 KiB cap on the wire already.
    client = _client(hostile, max_body_bytes=512 * 1024)
    with pytest.raises(ApiError, match="larger than 512 KiB"):
        _get(client, "/bomb")


# ----------------------------------------------------------------- item 3: strict JSON


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/duplicate-keys", "the key 'f1' appears twice in one object"),
        ("/nan", "NaN is not a JSON number"),
        ("/infinity", "the number 1e999 is too large for a float"),
    ],
)
def test_json_that_is_not_strict_is_refused_naming_the_call(
    hostile: HostileServer, path: str, why: str
) -> None:
    redactor = Redactor(["s3cret-value"])
    response = _get(_client(hostile), path)
    assert response.status == 200
    for decoder in (json_body, json_of):
        with pytest.raises(ContractError) as caught:
            decoder(response, redactor)
        error = caught.value
        assert error.call == f"getTrainingStatus (GET {path})"
        assert "not strict JSON" in error.message_text
        assert why in error.message_text
        assert error.exit_code == FAILED_EXIT


# ----------------------------------------------------------------- item 5: waits


def test_a_2xx_retry_after_of_hours_is_cut_to_the_cap_and_named(
    hostile: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(hostile, max_retry_after=1.0)
    with caplog.at_level("WARNING", logger="ci_trainer.http"):
        response = _get(client, "/retry-after-2xx")
    assert response.ok
    assert response.retry_after == 1.0
    assert response.refused_wait == HOURS
    assert f"asked to wait {HOURS} s (Retry-After on HTTP 200); waiting at most 1 s" in caplog.text


def test_polling_never_sleeps_past_the_cap_on_a_2xx_retry_after(hostile: HostileServer) -> None:
    """The real polling loop, sleeping for real: two hours asked, one second slept."""
    client = _client(hostile, max_retry_after=1.0)
    stop = threading.Event()
    answers: list[HttpResponse] = []

    def fetch() -> HttpResponse:
        response = _get(client, "/retry-after-2xx")
        answers.append(response)
        return response

    watch: Watch[HttpResponse] = Watch(
        fetch=fetch,
        final=lambda _answer: len(answers) >= 2,
        progress=lambda _answer: None,
        interrupted=lambda: Interrupted("stopped"),
        timed_out=lambda _now: TimeoutError("timed out"),
        retry_after=lambda answer: answer.retry_after,
    )
    started = time.monotonic()
    policy = PollPolicy(floor_seconds=0.1, timeout_seconds=3 * HOURS)
    schedule = PollSchedule(policy, started)
    poll_until_final(watch, schedule, sleep=stop.wait, stopping=stop.is_set)
    assert len(answers) == 2
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("path", ["/retry-after-hours", "/retry-after-date"])
def test_a_retry_after_of_hours_on_429_or_503_is_refused_at_once_naming_the_wait(
    hostile: HostileServer, path: str
) -> None:
    client = _client(hostile)  # the default cap: 300 s
    started = time.monotonic()
    response = _get(client, path)
    assert time.monotonic() - started < 2.0
    assert response.refused_wait is not None and response.refused_wait > HOURS - 60
    error = error_from_response(response, Redactor([]))
    assert "more than the 300 s ci-trainer waits (the wait was refused)" in error.message_text
    assert f"asked to wait {response.refused_wait:.0f} s" in error.message_text

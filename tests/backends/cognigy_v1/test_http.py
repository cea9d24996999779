"""The HTTP policy against a real local server: retries, Retry-After, budgets, stops."""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.errors import ApiError, Interrupted
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.client import Call, HttpClient
from ci_trainer.http.policy import RetryMode, RetryPolicy, parse_retry_after
from ci_trainer.redact import Redactor

from .conftest import FAST, MODEL, Waits
from .server import Reply, ScriptedServer, free_port

STATUS = f"/models/{MODEL}/training/t-1/status"
RUNNING = {"trainingId": "t-1", "status": "RUNNING", "progress": 50}
NOW = datetime(2026, 11, 26, 21, 0, 0, tzinfo=timezone.utc)
TRAIN_BODY = {"datasetIds": ["ds-1"], "validationSplit": 0.2, "hyperparameters": {}}


def test_retry_after_parses_seconds_dates_and_rejects_garbage() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=42), usegmt=True), NOW) == 42
    assert parse_retry_after(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-3", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_429_with_delta_seconds_waits_exactly_that_long(
    server: ScriptedServer, client: TrainingClient, waits: Waits
) -> None:
    server.on("GET", STATUS, Reply(429, {"title": "Too Many Requests"}, {"Retry-After": "3"}))
    server.on("GET", STATUS, Reply(200, RUNNING))
    assert client.training_status(MODEL, "t-1").status == "RUNNING"
    assert waits.delays == [3.0]
    assert len(server.requests_to(STATUS)) == 2


def test_429_with_an_http_date_waits_until_that_date(
    server: ScriptedServer, make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    client = make_client(now=lambda: NOW)
    when = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    server.on("GET", STATUS, Reply(429, None, {"Retry-After": when}), Reply(200, RUNNING))
    client.training_status(MODEL, "t-1")
    assert waits.delays == [12.0]


def test_503_burst_then_success_backs_off_with_capped_full_jitter(
    server: ScriptedServer, make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=2.5, max_attempts=6)
    client = make_client(policy=policy)
    server.on("GET", STATUS, *[Reply(503, {"title": "Unavailable"})] * 5, Reply(200, RUNNING))
    client.training_status(MODEL, "t-1")
    ceilings = [1.0, 2.0, 2.5, 2.5, 2.5]
    assert len(waits.delays) == 5
    assert all(0.0 <= d <= c for d, c in zip(waits.delays, ceilings, strict=True))
    assert len(set(waits.delays)) == 5  # jittered, not a fixed schedule


def test_503_until_the_attempt_limit_gives_a_typed_error(
    server: ScriptedServer, client: TrainingClient, waits: Waits
) -> None:
    problem = {
        "title": "Service Unavailable",
        "status": 503,
        "detail": "maintenance",
        "traceId": "tr-9",
    }
    server.on("GET", STATUS, Reply(503, problem))
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    error = caught.value
    assert (error.status, error.title, error.detail, error.trace_id) == (
        503,
        "Service Unavailable",
        "maintenance",
        "tr-9",
    )
    assert STATUS in error.call and "getTrainingStatus" in error.call
    assert "after 5 attempts" in str(error)
    assert len(waits.delays) == FAST.max_attempts - 1


def test_connection_reset_is_retried_for_a_get(
    server: ScriptedServer, client: TrainingClient, waits: Waits
) -> None:
    server.on("GET", STATUS, Reply(reset=True), Reply(200, RUNNING))
    assert client.training_status(MODEL, "t-1").progress == 50
    assert len(waits.delays) == 1


def test_read_timeout_is_retried_then_reported(
    server: ScriptedServer, make_client: Callable[..., TrainingClient]
) -> None:
    policy = RetryPolicy(read_timeout=0.2, max_attempts=2)
    client = make_client(policy=policy)
    server.on("GET", STATUS, Reply(200, RUNNING, delay=1.0))
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    assert "no answer" in str(caught.value) and "0.2 s" in str(caught.value)
    assert "after 2 attempts" in str(caught.value)
    assert len(server.requests_to(STATUS)) == 2


def test_connection_refused_names_the_host_and_the_settings_to_check(
    make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    port = free_port()
    client = make_client(base_url=f"http://127.0.0.1:{port}/api/v1")
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    text = str(caught.value)
    assert f"cannot connect to 127.0.0.1:{port}" in text
    assert "COGNIGY_BASE_URL" in text
    assert len(waits.delays) == FAST.max_attempts - 1


def test_promote_is_not_retried_after_the_request_may_have_arrived(
    server: ScriptedServer, client: TrainingClient, waits: Waits
) -> None:
    promote = f"/models/{MODEL}/versions/v-2/promote"
    server.on("POST", promote, Reply(503, {"title": "Unavailable"}))
    with pytest.raises(ApiError):
        client.promote(MODEL, "v-2")
    server.routes.clear()
    server.on("POST", promote, Reply(reset=True))
    with pytest.raises(ApiError):
        client.promote(MODEL, "v-2")
    assert len(server.requests_to(promote)) == 2  # one each: no retry
    assert waits.delays == []


def test_promote_is_retried_when_the_connection_was_never_made(
    make_client: Callable[..., TrainingClient], waits: Waits, redactor: Redactor
) -> None:
    port = free_port()
    started: list[ScriptedServer] = []

    def start_server_during_backoff(_: float) -> None:
        if not started:  # the service comes up while the client waits to retry
            srv = ScriptedServer(port)
            srv.on("POST", "/models/m/versions/v-2/promote", Reply(200, {"versionId": "v-2"}))
            started.append(srv)

    http = HttpClient(f"http://127.0.0.1:{port}/api/v1", redactor=redactor, policy=FAST, wait=waits)
    waits.on_wait = start_server_during_backoff
    try:
        call = Call("promoteVersion", "POST", "/models/m/versions/v-2/promote")
        response = http.send(call, retry=RetryMode.CONNECT_ONLY)
        assert response.status == 200
        assert len(started[0].requests_to("/models/m/versions/v-2/promote")) == 1
    finally:
        http.close()
        for srv in started:
            srv.close()


def test_train_without_a_key_is_never_resent_and_with_a_key_resends_the_same_key(
    server: ScriptedServer, client: TrainingClient
) -> None:
    train = f"/models/{MODEL}/train"
    server.on("POST", train, Reply(503, {"title": "Unavailable"}))
    with pytest.raises(ApiError):
        client.start_training(MODEL, TRAIN_BODY, idempotency_key=None)
    assert len(server.requests_to(train)) == 1

    server.routes.clear()
    started = {"trainingId": "t-7", "status": "QUEUED"}
    server.on("POST", train, Reply(reset=True), Reply(503, None), Reply(202, started))
    job = client.start_training(MODEL, TRAIN_BODY, idempotency_key="run-42-attempt-1")
    assert job.training_id == "t-7"
    keyed = server.requests_to(train)[1:]
    assert [s.headers["idempotency-key"] for s in keyed] == ["run-42-attempt-1"] * 3
    assert all(s.json() == TRAIN_BODY for s in keyed)


def test_the_run_budget_is_shared_by_all_calls(
    server: ScriptedServer, make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    budget = RequestBudget(retry_limit=2)
    client = make_client(budget=budget)
    server.on("GET", STATUS, Reply(503, None), Reply(200, RUNNING))
    client.training_status(MODEL, "t-1")
    server.routes.clear()
    server.on("GET", STATUS, Reply(503, None))
    with pytest.raises(ApiError):
        client.training_status(MODEL, "t-1")
    assert len(waits.delays) == 2  # one retry per call, then the run's budget is spent
    assert budget.retries_left == 0


def test_a_retry_after_longer_than_the_limit_ends_the_call_with_the_wait_named(
    server: ScriptedServer, make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    client = make_client(policy=RetryPolicy(max_retry_after=60))
    server.on("GET", STATUS, Reply(429, None, {"Retry-After": "3600"}))
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    assert "rate limited" in str(caught.value)
    assert "3600 s" in str(caught.value)
    assert waits.delays == []


def test_a_stop_during_backoff_raises_interrupted(
    server: ScriptedServer, make_client: Callable[..., TrainingClient]
) -> None:
    stop = threading.Event()
    client = make_client(stop=stop, wait=None)  # the real stop.wait
    server.on("GET", STATUS, Reply(503, None, {"Retry-After": "30"}))
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    try:
        with pytest.raises(Interrupted):
            client.training_status(MODEL, "t-1")
    finally:
        timer.cancel()
    assert len(server.requests_to(STATUS)) == 1


def test_a_stopped_run_sends_nothing(
    server: ScriptedServer, make_client: Callable[..., TrainingClient]
) -> None:
    stop = threading.Event()
    stop.set()
    client = make_client(stop=stop)
    with pytest.raises(Interrupted):
        client.training_status(MODEL, "t-1")
    assert server.seen == []


def test_each_retry_logs_one_line_without_secrets(
    server: ScriptedServer, client: TrainingClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ci_trainer.http")
    server.on(
        "GET", STATUS, Reply(503, None), Reply(429, None, {"Retry-After": "1"}), Reply(200, RUNNING)
    )
    client.training_status(MODEL, "t-1")
    lines = [r.getMessage() for r in caplog.records if r.name == "ci_trainer.http"]
    assert len(lines) == 2
    assert "HTTP 503; retry 1 of 4" in lines[0] and "getTrainingStatus" in lines[0]
    assert "HTTP 429; retry 2 of 4 in 1.0 s" in lines[1]
    token = server.seen[-1].bearer
    assert token and all(token not in line for line in lines)


def test_redirects_are_not_followed(server: ScriptedServer, client: TrainingClient) -> None:
    server.on("GET", STATUS, Reply(302, None, {"Location": "http://elsewhere.example/x"}))
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    assert "redirect" in str(caught.value) and "COGNIGY_BASE_URL" in str(caught.value)


def test_jitter_source_is_injectable_and_deterministic(
    server: ScriptedServer, make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    for _ in range(2):
        client = make_client(rng=random.Random(3))
        server.routes.clear()
        server.on("GET", STATUS, Reply(503, None), Reply(200, RUNNING))
        client.training_status(MODEL, "t-1")
    assert waits.delays[0] == waits.delays[1]


def test_the_wait_per_call_is_capped(
    server: ScriptedServer, make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    client = make_client(policy=RetryPolicy(max_wait_per_call=5, max_attempts=10))
    server.on("GET", STATUS, Reply(503, None, {"Retry-After": "3"}))
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    assert waits.delays == [3.0]  # a second 3 s wait would pass the 5 s cap
    assert caught.value.status == 503


def test_an_interrupted_wait_raises_interrupted_and_sends_no_more(
    server: ScriptedServer, client: TrainingClient, waits: Waits
) -> None:
    waits.interrupt = True
    server.on("GET", STATUS, Reply(502, None), Reply(200, RUNNING))
    with pytest.raises(Interrupted, match="getTrainingStatus"):
        client.training_status(MODEL, "t-1")
    assert len(server.requests_to(STATUS)) == 1


def test_an_idempotency_key_must_be_usable_as_the_contract_says(client: TrainingClient) -> None:
    with pytest.raises(ValueError, match="Idempotency-Key"):
        client.start_training(MODEL, TRAIN_BODY, idempotency_key="short")


def test_transport_errors_carry_no_chained_traceback(
    make_client: Callable[..., TrainingClient],
) -> None:
    client = make_client(
        base_url=f"http://127.0.0.1:{free_port()}/api/v1", policy=RetryPolicy(max_attempts=1)
    )
    with pytest.raises(ApiError) as caught:
        client.dataset_stats("ds-1")
    # A user-facing failure: no requests/urllib3 chain (with URLs and reprs) behind it.
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert caught.value.extra["attempts"] == 1


def test_response_headers_are_case_insensitive(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on("GET", STATUS, Reply(301, None, {"location": "https://new.example/api/v1"}))
    with pytest.raises(ApiError, match=re.escape("to https://new.example/api/v1")):
        client.training_status(MODEL, "t-1")


def test_a_host_name_that_does_not_resolve_says_so_not_connection_refused(
    make_client: Callable[..., TrainingClient], waits: Waits
) -> None:
    # `.invalid` never resolves (RFC 6761): the failure comes from the resolver itself.
    client = make_client(base_url="https://no-such-tenant.invalid/api/v1")
    with pytest.raises(ApiError) as caught:
        client.training_status(MODEL, "t-1")
    error = caught.value
    assert error.extra["failure"] == "dns"
    assert error.extra["sent"] is False  # provably never reached a service
    text = str(error)
    assert "cannot resolve the host name no-such-tenant.invalid" in text
    assert "name resolution failed (no such host, or no DNS)" in text
    assert "check the host name in COGNIGY_TENANT / COGNIGY_BASE_URL" in text
    assert "connection refused" not in text

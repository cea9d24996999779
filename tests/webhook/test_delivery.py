"""deliver() against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from ci_trainer import webhook
from ci_trainer.decision import Decision
from ci_trainer.http.budget import RequestBudget
from ci_trainer.redact import Redactor
from ci_trainer.result import RunResult, WebhookDelivery

from .conftest import Receiver, Reply, make_result

SECRET = "whsec-Kq8v3Zr0"


def send(
    result: RunResult,
    url: str,
    secret: str | None,
    *,
    attempts: int = 4,
    stop: threading.Event | None = None,
    redactor: Redactor | None = None,
) -> WebhookDelivery:
    """deliver() with a short back-off, so retry tests stay fast."""
    return webhook.deliver(
        result,
        url,
        secret,
        timeout=5.0,
        stop=stop,
        redactor=redactor,
        attempts=attempts,
        backoff=0.01,
        max_backoff=0.02,
    )


def test_signed_event_arrives_with_its_headers(receiver: Receiver) -> None:
    result = make_result()
    delivery = send(result, receiver.url, SECRET)
    assert delivery.delivered and delivery.attempted and delivery.signed
    assert delivery.status_code == 200 and delivery.attempts == 1 and delivery.error is None
    assert delivery.target == receiver.url
    assert delivery.event_id == webhook.event_id_for(result)
    [got] = receiver.received
    assert got.path == "/hooks/nlu"
    assert got.headers["X-CI-Trainer-Event"] == "model_promoted"
    assert got.headers["X-CI-Trainer-Delivery"] == delivery.event_id
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert webhook.verify_signature(got.body, got.headers["X-CI-Trainer-Signature"], SECRET)
    event = json.loads(got.body)
    assert event["eventId"] == delivery.event_id
    assert event["decision"] == "promoted"
    assert got.body == webhook.serialise(webhook.build_event(result, delivery.event_id))


def test_without_a_secret_the_event_is_unsigned(receiver: Receiver) -> None:
    delivery = send(make_result(), receiver.url, None)
    assert delivery.delivered and not delivery.signed
    assert "X-CI-Trainer-Signature" not in receiver.received[0].headers
    assert send(make_result(), receiver.url, "").signed is False


def test_retries_5xx_with_the_same_event_and_bytes(receiver: Receiver) -> None:
    receiver.script = [Reply(500), Reply(502), Reply(200)]
    delivery = send(make_result(), receiver.url, SECRET)
    assert delivery.delivered and delivery.attempts == 3 and delivery.status_code == 200
    ids = {got.headers["X-CI-Trainer-Delivery"] for got in receiver.received}
    bodies = {got.body for got in receiver.received}
    signatures = {got.headers["X-CI-Trainer-Signature"] for got in receiver.received}
    assert len(receiver.received) == 3
    assert ids == {delivery.event_id} and len(bodies) == 1 and len(signatures) == 1


def test_gives_up_after_the_attempt_budget(receiver: Receiver) -> None:
    receiver.script = [Reply(503, body=b"maintenance")]
    delivery = send(make_result(), receiver.url, SECRET, attempts=3)
    assert not delivery.delivered
    assert delivery.attempts == 3 and len(receiver.received) == 3
    assert delivery.status_code == 503
    assert delivery.error == "HTTP 503 from the receiver: maintenance after 3 attempts"


def test_4xx_is_final(receiver: Receiver) -> None:
    receiver.script = [Reply(404, body=b"no such hook"), Reply(200)]
    delivery = send(make_result(), receiver.url, SECRET)
    assert not delivery.delivered and delivery.attempts == 1
    assert delivery.status_code == 404
    assert delivery.error == "HTTP 404 from the receiver: no such hook"
    assert len(receiver.received) == 1


def test_408_and_429_are_retried(receiver: Receiver) -> None:
    receiver.script = [Reply(408), Reply(429, {"Retry-After": "0"}), Reply(204, body=b"")]
    delivery = send(make_result(), receiver.url, SECRET)
    assert delivery.delivered and delivery.attempts == 3 and delivery.status_code == 204


def test_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.script = [Reply(302, {"Location": "http://127.0.0.1:1/elsewhere"})]
    delivery = send(make_result(), receiver.url, SECRET)
    assert not delivery.delivered and delivery.attempts == 1
    assert "redirects are not followed" in (delivery.error or "")


def test_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.script = [Reply(429, {"Retry-After": "1"}), Reply(200)]
    delivery = send(make_result(), receiver.url, SECRET)
    assert delivery.delivered and delivery.attempts == 2
    first, second = receiver.received
    # The back-off alone would wait 0.01 s; the second POST came after the asked 1 s.
    assert second.at - first.at >= 0.95


def test_receiver_down_is_reported_not_raised(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/hooks?token=t0ps3cret"
    delivery = send(make_result(), url, SECRET, attempts=3)
    assert delivery.attempted and not delivery.delivered
    assert delivery.attempts == 3 and delivery.status_code is None
    assert delivery.error == "connection refused (is the receiver running?) after 3 attempts"
    assert delivery.target == f"http://127.0.0.1:{closed_port}/hooks"


def test_a_host_that_does_not_resolve_is_named_as_such() -> None:
    # `.invalid` never resolves (RFC 6761): the failure comes from the resolver itself.
    url = "https://registry.no-such-host.invalid/hooks"
    delivery = send(make_result(), url, SECRET, attempts=2)
    assert delivery.attempted and not delivery.delivered
    assert delivery.attempts == 2
    assert delivery.error == (
        "cannot resolve the receiver's host name (check WEBHOOK_URL) after 2 attempts"
    )


def test_stop_interrupts_the_wait_between_attempts(receiver: Receiver) -> None:
    # The receiver asks for 20 s; the run is cancelled as soon as the first POST lands.
    receiver.script = [Reply(503, {"Retry-After": "20"})]
    stop = threading.Event()

    def cancel_after_first_post() -> None:
        receiver.first_request.wait(10)
        stop.set()

    canceller = threading.Thread(target=cancel_after_first_post)
    canceller.start()
    delivery = send(make_result(), receiver.url, SECRET, stop=stop)
    canceller.join()
    assert not delivery.delivered and delivery.attempts == 1
    assert len(receiver.received) == 1
    assert (delivery.error or "").startswith("stopped: the run was cancelled after 1 attempt(s)")
    assert "HTTP 503" in (delivery.error or "")


def test_stop_already_set_sends_nothing(receiver: Receiver) -> None:
    stop = threading.Event()
    stop.set()
    delivery = send(make_result(), receiver.url, SECRET, stop=stop)
    assert not delivery.delivered and delivery.attempts == 0
    assert receiver.received == []
    assert delivery.error == "stopped: the run was cancelled after 0 attempt(s)"


def test_bad_url_is_an_error_in_the_delivery(receiver: Receiver) -> None:
    delivery = send(make_result(), "http://hooks.example.com/nlu?token=t0ps3cret", SECRET)
    assert delivery.attempted and not delivery.delivered and delivery.attempts == 0
    assert delivery.target == "http://hooks.example.com/nlu"
    assert "must use https://" in (delivery.error or "")
    assert "t0ps3cret" not in (delivery.error or "")


def test_unparsable_url_never_raises() -> None:
    delivery = send(make_result(), "https://[::1/x", SECRET)
    assert not delivery.delivered and delivery.target is None
    assert "cannot be parsed" in (delivery.error or "")


def test_no_secret_in_body_error_or_delivery(receiver: Receiver) -> None:
    client_secret = "cl13nt-s3cr3t-value"
    token_in_url = "t0ps3cret-query-token"
    leaky = make_result(Decision.FAILED, reason=f"auth failed with {client_secret}")
    # The receiver echoes everything it was sent, as misbehaving services do.
    receiver.script = [
        Reply(
            400,
            body=f"bad {SECRET} {token_in_url} {client_secret} user:pw".encode(),
        )
    ]
    url = receiver.url.replace("http://", "http://user:pw@") + f"?token={token_in_url}"
    delivery = send(leaky, url, SECRET, redactor=Redactor([client_secret, SECRET]))
    [got] = receiver.received
    assert client_secret.encode() not in got.body
    assert SECRET.encode() not in got.body
    assert json.loads(got.body)["reason"] == "auth failed with ***"
    assert webhook.verify_signature(got.body, got.headers["X-CI-Trainer-Signature"], SECRET)
    dumped = delivery.model_dump_json()
    for value in (client_secret, SECRET, token_in_url, "user:pw"):
        assert value not in dumped, value
    assert delivery.error is not None and delivery.error.startswith("HTTP 400 from the receiver")


def test_slow_receiver_times_out_and_is_retried(receiver: Receiver) -> None:
    receiver.script = [Reply(200, delay=0.6), Reply(200)]
    delivery = webhook.deliver(
        make_result(), receiver.url, SECRET, timeout=0.2, backoff=0.01, max_backoff=0.02
    )
    assert delivery.delivered and delivery.attempts == 2
    assert len({got.headers["X-CI-Trainer-Delivery"] for got in receiver.received}) == 1


def test_slow_receiver_every_time_is_a_timeout_error(receiver: Receiver) -> None:
    receiver.script = [Reply(200, delay=0.4)]
    delivery = webhook.deliver(
        make_result(), receiver.url, SECRET, timeout=0.1, attempts=2, backoff=0.01
    )
    assert not delivery.delivered
    assert delivery.error == "no answer within 0.1 s after 2 attempts"


def test_an_internal_bug_is_reported_not_raised(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(result: object, event_id: str) -> dict[str, object]:
        raise RuntimeError(f"bug while building with {SECRET}")

    monkeypatch.setattr(webhook, "build_event", broken)
    delivery = send(make_result(), receiver.url, SECRET)
    assert not delivery.delivered and receiver.received == []
    assert (
        delivery.error
        == "internal error while delivering: RuntimeError: bug while building with ***"
    )
    assert delivery.event_id == webhook.event_id_for(make_result())


def test_a_retry_after_beyond_the_wait_budget_is_not_waited_for(receiver: Receiver) -> None:
    receiver.script = [Reply(503, {"Retry-After": "120"}), Reply(200)]
    delivery = send(make_result(), receiver.url, SECRET)
    assert not delivery.delivered and delivery.attempts == 1
    assert delivery.error == (
        'HTTP 503 from the receiver: {"ok": true} (the receiver asked to retry in 120 s; '
        "waits between attempts add up to at most 30 s)"
    )


def test_url_with_surrounding_whitespace_is_used_trimmed(receiver: Receiver) -> None:
    delivery = send(make_result(), f"  {receiver.url}\n", SECRET)
    assert delivery.delivered and delivery.target == receiver.url
    assert receiver.received[0].path == "/hooks/nlu"


def test_user_info_in_the_url_is_sent_as_basic_credentials_and_the_query_kept(
    receiver: Receiver,
) -> None:
    url = receiver.url.replace("http://", "http://hook%40user:pa55word@") + "?token=t0ps3cret"
    delivery = send(make_result(), url, SECRET)
    assert delivery.delivered and delivery.target == receiver.url
    [got] = receiver.received
    assert got.path == "/hooks/nlu?token=t0ps3cret"
    expected = base64.b64encode(b"hook@user:pa55word").decode("ascii")
    assert got.headers["Authorization"] == f"Basic {expected}"


def test_a_shared_run_budget_counts_every_attempt(receiver: Receiver) -> None:
    receiver.script = [Reply(503), Reply(200)]
    budget = RequestBudget()
    delivery = webhook.deliver(
        make_result(), receiver.url, SECRET, timeout=5.0, backoff=0.01, budget=budget
    )
    assert delivery.delivered and delivery.attempts == 2
    assert budget.used == 2 and budget.retries_left == budget.retry_limit - 1

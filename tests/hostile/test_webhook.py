"""The webhook against a hostile receiver over real HTTP: one deadline per attempt, the
stop flag honoured mid-request, and no more of the answer read than the status and a
short snippet (issue 14, items 1 and 2)."""

from __future__ import annotations

import threading
import time

from webhook.conftest import make_result

from ci_trainer import webhook
from hostile.server import HUGE, HostileServer
from hostile.test_service import _probe

SECRET = "s3cret-value"


def test_a_dripping_receiver_ends_at_the_attempts_deadline(hostile: HostileServer) -> None:
    started = time.monotonic()
    delivery = webhook.deliver(
        make_result(), hostile.url + "/drip", SECRET, timeout=0.5, attempts=1
    )
    elapsed = time.monotonic() - started
    assert not delivery.delivered
    assert delivery.error == "no complete answer within 1 s (the attempt's deadline)"
    assert 0.9 <= elapsed < 2.5, elapsed


def test_the_stop_flag_ends_a_delivery_in_flight_after_its_short_grace(
    hostile: HostileServer,
) -> None:
    # The receiver never answers; the read timeout (10 s) and the deadline (20 s) would
    # keep the run far past the runner's 7.5 s from SIGTERM to kill.
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    delivery = webhook.deliver(
        make_result(), hostile.url + "/silent", SECRET, timeout=10.0, attempts=4, stop=stop
    )
    elapsed = time.monotonic() - started
    assert 0.5 + webhook.STOP_GRACE <= elapsed < 0.5 + webhook.STOP_GRACE + 1.0, elapsed
    assert not delivery.delivered
    assert delivery.error is not None and delivery.error.startswith(
        "stopped: the run was cancelled"
    )


def test_only_the_start_of_a_huge_answer_is_read(hostile: HostileServer) -> None:
    started = time.monotonic()
    delivery = webhook.deliver(
        make_result(), hostile.url + "/huge-error", SECRET, timeout=5.0, attempts=1
    )
    assert time.monotonic() - started < 3.0
    assert delivery.status_code == 500
    assert delivery.error is not None
    assert delivery.error.startswith("HTTP 500 from the receiver: xxxx")
    assert len(delivery.error) < 300
    # Once we hung up the receiver could not write the rest: kernel buffers took only a
    # few MiB of its 256 (the old reader took all 256 MiB before judging the status).
    deadline = time.monotonic() + 5
    while "/huge-error" not in hostile.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hostile.sent["/huge-error"] < HUGE // 4


def test_a_bomb_from_the_receiver_costs_no_memory(hostile: HostileServer) -> None:
    outcome = _probe("webhook", hostile.url)
    assert outcome["status"] == 500
    assert str(outcome["error"]).startswith("HTTP 500 from the receiver")
    grown_mib = (int(str(outcome["peak_after_kib"])) - int(str(outcome["peak_before_kib"]))) / 1024
    assert grown_mib < 20, f"peak memory grew {grown_mib:.0f} MiB"
    assert SECRET not in str(outcome)

"""A scripted webhook receiver: a real threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ci_trainer.backend_types import EvalMetrics, IntentScore
from ci_trainer.decision import Decision
from ci_trainer.result import Mode, ProductionInfo, PromotionRecord, Provenance, RunResult


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0  # seconds before answering (a slow receiver)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is part of the tests, not a failure


class Receiver:
    """Answers each POST with the next scripted Reply (the last one repeats)."""

    def __init__(self) -> None:
        self.script: list[Reply] = [Reply()]
        self.received: list[Received] = []
        self.first_request = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, time.monotonic())
                    )
                    index = len(receiver.received) - 1
                    reply = receiver.script[min(index, len(receiver.script) - 1)]
                receiver.first_request.set()
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest output clean

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/nlu"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


START = datetime(2026, 11, 26, 21, 0, tzinfo=timezone.utc)


def make_result(decision: Decision = Decision.PROMOTED, **extra: object) -> RunResult:
    promoted = decision is Decision.PROMOTED
    fields: dict[str, object] = {
        "run_uuid": "3b8e4c52-2f7d-4a8e-9f0a-5d6c7b8a9e01",
        "tool_version": "0.1.0",
        "backend": "cognigy-v1",
        "mode": Mode.PROMOTE if promoted else Mode.TRAIN,
        "decision": decision,
        "reason": "F1 0.910 >= 0.850",
        "started_at": START,
        "finished_at": START + timedelta(seconds=90),
        "duration_seconds": 90.0,
        "model_id": "mdl_banking",
        "training_id": "trn_42",
        "version_id": "ver_7",
        "metrics": EvalMetrics(
            version_id="ver_7",
            f1=0.91,
            precision=None,
            recall=0.9,
            per_intent=[IntentScore(intent="lost_card", f1=0.8, support=5)],
        ),
        "production": ProductionInfo(version_id="ver_6"),
        "promotion": PromotionRecord(
            attempted=promoted,
            promoted=promoted,
            version_id="ver_7" if promoted else None,
            environment="production" if promoted else None,
        ),
        "provenance": Provenance(
            repository="acme/bank-bot", commit="0" * 40, ref="refs/heads/main", run_id="99"
        ),
    }
    fields.update(extra)
    return RunResult.model_validate(fields)

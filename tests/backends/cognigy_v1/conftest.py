"""Fixtures for the REST client tests: a scripted server, a recording waiter, a client."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from ci_trainer.backends.cognigy_v1.backend import CognigyV1Backend
from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.redact import Redactor

from .server import ScriptedServer

CLIENT_ID = "ci-client-id"
CLIENT_SECRET = "very-secret-client-secret-42"
MODEL = "model-1"

# Small timeouts keep timeout tests fast; waits are recorded, not slept.
FAST = RetryPolicy(connect_timeout=1.0, read_timeout=0.3, backoff_base=0.5, backoff_cap=4.0)


class Waits:
    """A `wait` that records each delay and never sleeps (returns True to interrupt)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.interrupt = False
        self.on_wait: Callable[[float], None] | None = None

    def __call__(self, delay: float) -> bool:
        self.delays.append(delay)
        if self.on_wait is not None:
            self.on_wait(delay)
        return self.interrupt


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def masked() -> list[str]:
    """Values the Redactor announced (what the action turns into ::add-mask::)."""
    return []


@pytest.fixture
def redactor(masked: list[str]) -> Redactor:
    return Redactor(on_new=masked.append)


@pytest.fixture
def make_client(
    server: ScriptedServer, waits: Waits, redactor: Redactor
) -> Iterator[Callable[..., TrainingClient]]:
    made: list[TrainingClient] = []

    def make(**overrides: object) -> TrainingClient:
        options: dict[str, object] = {
            "redactor": redactor,
            "policy": FAST,
            "wait": waits,
            "rng": random.Random(7),
        }
        options.update(overrides)
        base_url = str(options.pop("base_url", server.url))
        client = TrainingClient(base_url, CLIENT_ID, CLIENT_SECRET, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TrainingClient]) -> TrainingClient:
    return make_client()


@pytest.fixture
def backend(server: ScriptedServer, waits: Waits) -> Iterator[CognigyV1Backend]:
    made = CognigyV1Backend(
        server.url,
        CLIENT_ID,
        CLIENT_SECRET,
        MODEL,
        Redactor(),
        None,
        FAST,
        wait=waits,
        rng=random.Random(1),
    )
    yield made
    made.close()

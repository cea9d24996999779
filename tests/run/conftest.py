"""Fixtures for whole runs against the embedded emulator over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.faults import FaultPlan
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .support import WEBHOOK_SECRET, LeakGuard, WebhookReceiver, write_project

CLIENT_SECRET = "emulator-client-secret-7f3a9c"
# Short timeouts and back-off keep fault tests fast; the policy's logic is unchanged.
FAST_HTTP = RetryPolicy(connect_timeout=2.0, read_timeout=1.0, backoff_base=0.02, backoff_cap=0.1)


class Harness:
    """Builds projects, emulators and runs; records every secret and output for the guard."""

    def __init__(
        self,
        tmp_path: Path,
        stack: ExitStack,
        guard: LeakGuard,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        self.tmp_path = tmp_path
        self.stack = stack
        self.guard = guard
        self.capfd = capfd
        self.emulators: list[Emulator] = []
        self.receivers: list[WebhookReceiver] = []
        guard.secret(CLIENT_SECRET, WEBHOOK_SECRET)

    def output(self) -> tuple[str, str]:
        """stdout and stderr so far (also handed to the leak guard)."""
        out, err = self.capfd.readouterr()
        self.guard.text("stdout", out)
        self.guard.text("stderr", err)
        return out, err

    def project(self, patch: dict[str, Any] | None = None, **kwargs: Any) -> Path:
        return write_project(self.tmp_path, patch, **kwargs)

    def emulator(
        self, config: Path, *faults: Any, time_scale: float = 0.0, **kwargs: Any
    ) -> Emulator:
        emu = Emulator.from_config(
            config,
            client_secret=CLIENT_SECRET,
            time_scale=time_scale,
            fault_plan=FaultPlan.of(*faults),
            **kwargs,
        )
        self.stack.enter_context(emu)
        self.emulators.append(emu)
        return emu

    def emulator_for(self, datasets: dict[str, Path], **kwargs: Any) -> Emulator:
        """An emulator serving other files than the config names."""
        emu = Emulator(datasets, client_secret=CLIENT_SECRET, time_scale=0.0, **kwargs)
        self.stack.enter_context(emu)
        self.emulators.append(emu)
        return emu

    def receiver(self, statuses: list[int] | None = None) -> WebhookReceiver:
        receiver = WebhookReceiver(statuses=list(statuses or []))
        self.stack.callback(receiver.close)
        self.receivers.append(receiver)
        return receiver

    def env(
        self,
        emu: Emulator | None,
        receiver: WebhookReceiver | None = None,
        **extra: str,
    ) -> dict[str, str]:
        env: dict[str, str] = {}
        if emu is not None:
            env |= {
                "COGNIGY_BASE_URL": emu.base_url,
                "COGNIGY_CLIENT_ID": emu.client_id,
                "COGNIGY_CLIENT_SECRET": emu.client_secret,
            }
        if receiver is not None:
            env |= {"WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": WEBHOOK_SECRET}
        return env | extra

    def run(
        self,
        config: Path,
        emu: Emulator | None,
        *,
        mode: Mode | str = Mode.TRAIN,
        receiver: WebhookReceiver | None = None,
        env: dict[str, str] | None = None,
        stop: threading.Event | None = None,
        audit_log: Path | None = None,
    ) -> RunResult:
        settings = Settings.from_env(
            self.env(emu, receiver, **(env or {})),
            config_path=config,
            mode=mode,
            audit_log=audit_log,
            output_dir=self.tmp_path / "out",
        )
        result = execute(settings, ConsoleReporter(), stop=stop, retry_policy=FAST_HTTP)
        self.guard.file(result.audit_log)
        self.guard.text("RunResult", result.model_dump_json())
        return result


@pytest.fixture(scope="session", autouse=True)
def _warm_scikit_learn() -> None:
    """Import scikit-learn once up front, so no test's first training waits for it."""
    from ci_trainer.emulator.training import preload

    preload()


@pytest.fixture
def guard(capfd: pytest.CaptureFixture[str]) -> Iterator[LeakGuard]:
    """Fails the test when any secret reached stdout, stderr, an audit log or a webhook."""
    leak_guard = LeakGuard()
    yield leak_guard
    out, err = capfd.readouterr()
    leak_guard.text("stdout", out)
    leak_guard.text("stderr", err)
    assert leak_guard.leaks() == []


@pytest.fixture
def harness(
    tmp_path: Path, guard: LeakGuard, capfd: pytest.CaptureFixture[str]
) -> Iterator[Harness]:
    with ExitStack() as stack:
        h = Harness(tmp_path, stack, guard, capfd)
        yield h
        # Before the emulators stop: every token they issued is a secret too.
        for emu in h.emulators:
            guard.secret(*emu.issued_tokens())
        for receiver in h.receivers:
            for request in receiver.received:
                guard.text("webhook body", request.body)
                guard.text("webhook headers", repr(request.headers))


RunFactory = Callable[..., RunResult]

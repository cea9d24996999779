"""Each line is printed in the group of the stage it belongs to (issue 15 item 6): the
access check starts before the datasets are read, but its retry notices appear under
"Check access", not inside "Load datasets"."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.faults import Fault
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .conftest import FAST_HTTP, Harness


class Events(logging.Handler):
    """Stage boundaries and HTTP log lines, in the order they were printed."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"log: {record.getMessage()}")


class WaitingReporter(ConsoleReporter):
    """Stays inside "Load datasets" until the token request was retried, so the retry
    notice is written while that group is open (the race the issue describes, made
    certain)."""

    def __init__(self, events: Events, emulator: Emulator) -> None:
        super().__init__()
        self.events = events
        self.emulator = emulator

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.events.lines.append(f"==> {name}")
        if name == "Load datasets":
            deadline = time.monotonic() + 10
            while len(self.emulator.state.requests_for("getToken")) < 2:
                assert time.monotonic() < deadline, "the token request was never retried"
                time.sleep(0.01)
        try:
            yield
        finally:
            self.events.lines.append(f"<== {name}")


def run_logging(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, config: Path, emu: Emulator
) -> tuple[RunResult, list[str]]:
    """A validate run whose stages and HTTP log lines are recorded in order."""
    events = Events()
    logger = logging.getLogger("ci_trainer.http")
    logger.addHandler(events)
    monkeypatch.setattr(logger, "propagate", False)  # the test's handler prints it
    try:
        settings = Settings.from_env(
            harness.env(emu), config_path=config, mode=Mode.VALIDATE, output_dir=harness.tmp_path
        )
        result = execute(settings, WaitingReporter(events, emu), retry_policy=FAST_HTTP)
    finally:
        logger.removeHandler(events)
    return result, events.lines


def test_the_access_checks_retry_notice_is_printed_in_its_own_group(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="getToken", kind="status", calls=(1,)))
    _, lines = run_logging(harness, monkeypatch, config, emu)
    retry = next(i for i, line in enumerate(lines) if line.startswith("log: getToken"))
    assert "retry 1 of" in lines[retry]
    opened = lines.index("==> Check access")
    assert opened < retry < lines.index("<== Check access"), lines
    assert lines.index("<== Load datasets") < opened


def test_a_run_that_ends_before_check_access_still_prints_the_held_lines(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="getToken", kind="status", calls=(1,)))
    (config.parent / "data" / "train.yaml").write_text("greet: [unclosed\n", encoding="utf-8")
    result, lines = run_logging(harness, monkeypatch, config, emu)
    assert result.decision == "invalid"
    assert "==> Check access" not in lines
    retry = next(i for i, line in enumerate(lines) if line.startswith("log: getToken"))
    assert lines.index("<== Load datasets") < retry  # held, then printed, not lost

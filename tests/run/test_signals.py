"""Cancellation: SIGINT/SIGTERM while polling cancel the remote job, audit, exit within 5 s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ci_trainer.audit import verify_file
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.decision import Decision
from ci_trainer.emulator.faults import Fault
from ci_trainer.signals import install_signal_handlers

from .conftest import Harness

# The runner kills 10 s after SIGINT; we promise to be gone within 5 s.
EXIT_BUDGET_SECONDS = 5.0


def wait_until_running(emu: Emulator, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [t for t in emu.state.trainings.values() if t.status == "RUNNING"]
        polled = emu.state.requests_for("getTrainingStatus")
        if running and polled:
            return running[0].training_id
        time.sleep(0.05)
    raise AssertionError("the run never started polling a training")


def test_stop_event_while_polling_cancels_the_job_and_audits(harness: Harness) -> None:
    config = harness.project({"training": {"poll_interval_floor_seconds": 0.5}})
    emu = harness.emulator(config, training_seconds=60.0, time_scale=1.0)
    stop = threading.Event()
    watcher = threading.Thread(target=lambda: (wait_until_running(emu), stop.set()))
    watcher.start()
    started = time.monotonic()
    result = harness.run(config, emu, stop=stop)
    watcher.join()
    assert time.monotonic() - started < 20.0
    assert result.decision is Decision.FAILED
    assert result.exit_code == 3
    assert f"training {result.training_id} was cancelled on the service" in result.reason
    assert result.error is not None and result.error.type == "Interrupted"
    assert emu.state.trainings[result.training_id or ""].status == "CANCELLED"
    assert result.attempts[0].status == "CANCELLED"
    assert result.audit_log is not None and verify_file(result.audit_log).ok


def test_stop_before_training_starts_no_training(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    stop = threading.Event()
    stop.set()
    result = harness.run(config, emu, stop=stop)
    assert result.decision is Decision.FAILED
    assert result.reason.endswith("before training started")
    assert emu.state.requests_for("startTraining") == []
    assert result.audit_log is not None


def test_signal_handlers_set_the_event_and_restore() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    restore = install_signal_handlers(stop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2.0)
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is before


@contextmanager
def cli_run(config: Path, tmp_path: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`python -m ci_trainer run` in a subprocess; killed on the way out if still alive."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_"))
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_trainer",
            "run",
            "--config",
            str(config),
            "--mode",
            "train",
            "--audit-log",
            str(tmp_path / "audit.jsonl"),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        env=clean | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def signal_and_wait(process: subprocess.Popen[str], signum: int) -> tuple[str, str, float]:
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=EXIT_BUDGET_SECONDS + 5)
    return out, err, time.monotonic() - sent


def test_sigterm_during_a_hanging_status_request_still_exits_in_time(
    harness: Harness, tmp_path: Path
) -> None:
    config = harness.project({"training": {"poll_interval_floor_seconds": 0.2}})
    # The 2nd status request hangs far beyond the budget (the CLI's read timeout is 30 s).
    emu = harness.emulator(
        config,
        Fault(operation="getTrainingStatus", kind="delay", seconds=8.0, calls=(2,)),
        training_seconds=120.0,
        time_scale=1.0,
    )
    with cli_run(config, tmp_path, harness.env(emu)) as process:
        deadline = time.monotonic() + 20
        while emu.call_count("getTrainingStatus") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        training_id = wait_until_running(emu)
        time.sleep(0.2)  # the request is in the server's sleep, the client blocked on it
        out, err, elapsed = signal_and_wait(process, signal.SIGTERM)
    harness.guard.text("subprocess stdout", out)
    harness.guard.text("subprocess stderr", err)
    harness.guard.file(tmp_path / "audit.jsonl")
    assert elapsed < EXIT_BUDGET_SECONDS, err
    assert process.returncode == 3, err
    assert "still open after" in out
    assert emu.state.trainings[training_id].status == "CANCELLED"
    assert verify_file(tmp_path / "audit.jsonl").ok


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_a_cli_run_cancels_audits_and_exits_in_time(
    harness: Harness, tmp_path: Path, signum: signal.Signals
) -> None:
    config = harness.project({"training": {"poll_interval_floor_seconds": 0.5}})
    emu = harness.emulator(config, training_seconds=120.0, time_scale=1.0)
    audit = tmp_path / "audit.jsonl"
    with cli_run(config, tmp_path, harness.env(emu)) as process:
        training_id = wait_until_running(emu)
        out, err, elapsed = signal_and_wait(process, signum)
    harness.guard.text("subprocess stdout", out)
    harness.guard.text("subprocess stderr", err)
    harness.guard.file(audit)
    assert elapsed < EXIT_BUDGET_SECONDS, err
    assert process.returncode == 3, err
    assert "failed" in out
    assert emu.state.trainings[training_id].status == "CANCELLED"
    report = verify_file(audit)
    assert report.ok, report
    [record] = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    assert record["decision"] == "failed"
    assert record["trainingId"] == training_id
    outputs = json.loads((tmp_path / "out" / "outputs.json").read_text(encoding="utf-8"))
    assert outputs["decision"] == "failed"


def test_ctrl_c_without_signal_handlers_still_cancels_and_audits(harness: Harness) -> None:
    """Library use (no handlers installed): KeyboardInterrupt in the main thread stops too."""
    import _thread

    config = harness.project({"training": {"poll_interval_floor_seconds": 0.5}})
    emu = harness.emulator(config, training_seconds=60.0, time_scale=1.0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    watcher = threading.Thread(target=lambda: (wait_until_running(emu), _thread.interrupt_main()))
    watcher.start()
    result = harness.run(config, emu)
    watcher.join()
    assert result.decision is Decision.FAILED
    assert "was cancelled on the service" in result.reason
    assert emu.state.trainings[result.training_id or ""].status == "CANCELLED"
    assert result.audit_log is not None and verify_file(result.audit_log).ok

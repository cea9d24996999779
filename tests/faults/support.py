"""Running one fault-matrix row: a project, an emulator with the row's fault plan, a run.

A row runs either in this process (`ci_trainer.run.execute`, short client timeouts) or,
for the signal rows, as `python -m ci_trainer run` in a subprocess that gets a real
SIGTERM at the moment the emulator sees the request the row names. Either way the result
is read back the way an auditor would: from the audit log the run appended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ci_trainer.audit import VerifyReport, verify_file
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.backends.cognigy_v1.emulator.state import EmulatorState
from ci_trainer.emulator.faults import OPERATIONS, Fault, FaultPlan
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import Mode
from ci_trainer.run import execute
from ci_trainer.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SECRET = "fault-matrix-client-secret-5d1e"
WEBHOOK_SECRET = "fault-matrix-webhook-secret-9b7c"
# Short timeouts and back-off keep each row well under 2 s; the retry logic is unchanged.
FAST_HTTP = RetryPolicy(connect_timeout=1.0, read_timeout=0.5, backoff_base=0.01, backoff_cap=0.05)
MODEL_ID = "model-faults"
READ_TIMEOUT_DELAY = 0.8  # a `delay` fault this long outlasts FAST_HTTP's read timeout


# --------------------------------------------------------------------- the project


def write_project(root: Path, *, audit_path: str = "audit/audit.log") -> Path:
    """A small promotable project: 3 well separated intents, a holdout, promote mode."""
    intents = {
        "check_balance": ["what is my balance", "how much money do i have", "show my balance"],
        "lost_card": ["i lost my card", "my card was stolen", "block my card please"],
        "opening_hours": ["when do you open", "what are your opening hours", "are you open"],
    }
    frames = ["{}", "please, {}", "hi {}", "{} thanks"]
    train = {name: [f.format(t) for f in frames for t in texts] for name, texts in intents.items()}
    holdout = {name: [f"hello, {t}" for t in texts] for name, texts in intents.items()}
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 1,
        "model": {"id": MODEL_ID},
        "datasets": [{"id": "ds-main", "path": "data/train.yaml"}],
        "holdout": {"path": "data/holdout.yaml"},
        "training": {
            "poll_interval_floor_seconds": 0.1,
            "timeout_minutes": 1,
            "hyperparameters": {"epochs": 10, "seed": 3},
        },
        "gate": {"min_f1": 0.5, "min_precision": 0.5, "champion": {"bootstrap_samples": 200}},
        "audit": {"path": audit_path},
    }
    # YAML is a superset of JSON: no YAML writer needed for these files.
    (data / "train.yaml").write_text(json.dumps(train), encoding="utf-8")
    (data / "holdout.yaml").write_text(json.dumps(holdout), encoding="utf-8")
    path = root / "training-config.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def seed_champion(emu: Emulator, model_id: str) -> str:
    """Train and promote a first version behind the HTTP layer (the fault plan's call
    counters stay at zero), so every run has a production version to compare with."""
    request = {
        "datasetIds": ["ds-main"],
        "validationSplit": 0.2,
        "hyperparameters": {"epochs": 10, "seed": 11},
    }
    _, started = emu.service.start_training(
        model_id, request, client_id="champion-team", idempotency_key=None
    )
    view = emu.wait_for_training(started["trainingId"])
    assert view.status == "COMPLETED" and view.version_id, view
    emu.set_production(model_id, view.version_id)
    return view.version_id


# --------------------------------------------------------------------- webhook receiver


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1: answers `statuses` in turn (then 200), records bodies.

    `hold` (seconds) delays every answer, so a signal can arrive while a delivery is open.
    """

    statuses: list[int] = field(default_factory=list)
    hold: float = 0.0
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.bodies.append(body)
                receiver.headers.append(dict(self.headers))
                receiver.arrived.set()
                time.sleep(receiver.hold)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks/ci-trainer"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (the port was just released)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_port
    server.server_close()
    return f"http://127.0.0.1:{port}/hooks/ci-trainer"


# --------------------------------------------------------------------- what a row yields


@dataclass
class Outcome:
    """What one run left behind, read back from the outside."""

    exit_code: int
    audit_path: Path | None
    state: EmulatorState
    client_id: str
    model_id: str
    champion: str  # the production version before the run
    arrived: dict[str, int]  # operationId -> calls that reached the emulator
    webhook_bodies: list[bytes]
    stdout: str = ""
    stderr: str = ""

    @property
    def verify(self) -> VerifyReport | None:
        return verify_file(self.audit_path) if self.audit_path else None

    @property
    def record(self) -> dict[str, Any]:
        """The last record of the audit log: this run's."""
        assert self.audit_path is not None and self.audit_path.exists()
        lines = self.audit_path.read_bytes().splitlines()
        last: dict[str, Any] = json.loads(lines[-1])
        return last


# --------------------------------------------------------------------- running a row


@dataclass
class RunSpec:
    """Everything a row varies besides the fault plan."""

    faults: tuple[Fault, ...] = ()
    emulator: dict[str, Any] = field(default_factory=dict)
    webhook_statuses: list[int] | None = None
    webhook_down: bool = False
    webhook_hold: float = 0.0
    audit_log: Path | None = None  # overrides the config's audit path
    signal_at: str | None = None  # operationId, or "webhook": SIGTERM when it arrives
    base_host: str | None = None  # how the base URL names the emulator's 127.0.0.1


class Runner:
    """Starts emulators and receivers for rows, and stops them without waiting on them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._closers: list[Callable[[], None]] = []

    def close(self) -> None:
        # An emulator takes ~0.5 s to stop (werkzeug's poll interval): stop them all at once.
        threads = [threading.Thread(target=close) for close in self._closers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)

    def run(self, spec: RunSpec) -> Outcome:
        config = write_project(self.root)
        emu = Emulator.from_config(
            config,
            client_secret=CLIENT_SECRET,
            fault_plan=FaultPlan.of(*spec.faults),
            **({"time_scale": 0.0} | spec.emulator),
        ).start()
        self._closers.append(emu.stop)
        champion = seed_champion(emu, MODEL_ID)
        env = {
            "COGNIGY_BASE_URL": emu.base_url,
            "COGNIGY_CLIENT_ID": emu.client_id,
            "COGNIGY_CLIENT_SECRET": emu.client_secret,
        }
        if spec.base_host is not None:
            env["COGNIGY_BASE_URL"] = emu.base_url.replace("127.0.0.1", spec.base_host, 1)
        receiver = self._receiver(spec, env)
        if spec.signal_at is not None:
            return self._run_subprocess(spec, config, env, emu, receiver, champion)
        settings = Settings.from_env(
            env,
            config_path=config,
            mode=Mode.PROMOTE,
            output_dir=self.root / "out",
            audit_log=spec.audit_log,
        )
        result = execute(settings, ConsoleReporter(), retry_policy=FAST_HTTP)
        return Outcome(
            exit_code=result.exit_code,
            audit_path=Path(result.audit_log) if result.audit_log else None,
            state=settled_state(emu),
            client_id=emu.client_id,
            model_id=MODEL_ID,
            champion=champion,
            arrived=arrivals(emu),
            webhook_bodies=list(receiver.bodies) if receiver else [],
        )

    def _receiver(self, spec: RunSpec, env: dict[str, str]) -> Receiver | None:
        if spec.webhook_down:
            env |= {"WEBHOOK_URL": closed_port_url(), "WEBHOOK_SECRET": WEBHOOK_SECRET}
            return None
        if spec.webhook_statuses is None:
            return None
        receiver = Receiver(statuses=list(spec.webhook_statuses), hold=spec.webhook_hold)
        self._closers.append(receiver.close)
        env |= {"WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": WEBHOOK_SECRET}
        return receiver

    def _run_subprocess(
        self,
        spec: RunSpec,
        config: Path,
        env: dict[str, str],
        emu: Emulator,
        receiver: Receiver | None,
        champion: str,
    ) -> Outcome:
        out = self.root / "out"
        command = [sys.executable, "-m", "ci_trainer", "run", "--config", str(config)]
        command += ["--mode", "promote", "--output-dir", str(out)]
        child_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT)} | env
        with subprocess.Popen(
            command,
            env=child_env,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert spec.signal_at is not None
            arrived = _wait_for_arrival(spec.signal_at, emu, receiver, process)
            if arrived:
                process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=30)
        assert arrived, f"the run never reached {spec.signal_at}:\n{stdout}\n{stderr}"
        outputs = json.loads((out / "outputs.json").read_text(encoding="utf-8"))
        audit = outputs.get("audit-log")
        return Outcome(
            exit_code=process.returncode,
            audit_path=Path(audit) if audit else None,
            state=settled_state(emu),
            client_id=emu.client_id,
            model_id=MODEL_ID,
            champion=champion,
            arrived=arrivals(emu),
            webhook_bodies=list(receiver.bodies) if receiver else [],
            stdout=stdout,
            stderr=stderr,
        )


def _wait_for_arrival(
    where: str, emu: Emulator, receiver: Receiver | None, process: subprocess.Popen[str]
) -> bool:
    """True once the request `where` has reached the server (still being answered)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        if where == "webhook":
            assert receiver is not None
            if receiver.arrived.wait(0.01):
                return True
        elif emu.call_count(where) > 0:
            return True
        time.sleep(0.01)
    return False


def settled_state(emu: Emulator, timeout: float = 10.0) -> EmulatorState:
    """The emulator's state once every request that arrived has been answered.

    An answer held back by a `delay` fault may still change the service (a promote
    applied after the client gave up): the checks must see that change, not miss it.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = emu.state
        answered = {op: len(state.requests_for(op)) for op in OPERATIONS}
        if answered == arrivals(emu) or time.monotonic() >= deadline:
            return state
        time.sleep(0.02)


def arrivals(emu: Emulator) -> dict[str, int]:
    """Calls per operation that reached the emulator, answered or not (yet)."""
    return {operation: emu.call_count(operation) for operation in OPERATIONS}

"""ci-trainer's benchmark table (issue 7): polling, run overhead, validation, summary, image.

    python benchmarks/run.py                 # everything but the image (about 4 minutes)
    python benchmarks/run.py --image         # also build the action image (slow)
    python benchmarks/run.py --only polling  # one part: polling, run, validation, summary, image

Prints one Markdown table: measurement, value, target, verdict. Every figure comes from
real processes and real HTTP on 127.0.0.1 against the embedded emulator:

(a) polling: N trainings per poller, each a simulated training of 60 s plus an offset
    spread over one 15 s period (emulator `training_seconds`, `time_scale=1`), so fixed
    pollers meet the completion at every phase. Three pollers run concurrently against
    the same trainings' lengths: ci-trainer's adaptive schedule (`PollSchedule` with the
    default 10 s floor), a fixed 15 s poll (the seed tutorial) and a fixed 2 s poll.
    Detection lag = when the poller got COMPLETED minus when the emulator's job became
    COMPLETED (the job's own clock: start + its apparent length, read from the emulator
    in this process). Status requests are counted from the emulator's log.
(b) run: `python -m ci_trainer run` on the sample config (training-config.yaml) as a
    subprocess against a running emulator with a 5 s training. Overhead = the process's
    wall time minus the job's server-side training time; start to first request = from
    just before the process is spawned to the first request in the emulator's log.
(c) validation: benchmarks/validation.py's loader and checks on 1,000 intents x 200
    examples (YAML), best of 3, peak memory traced.
(d) summary: the step summary of a real `run` on 1,000 intents (bytes of summary.md).
(e) image: `../shared/tools/action-image build`, then the image's size (optional).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from ci_trainer.backend_types import JobStatus, Target, TrainingJob, TrainingRequest  # noqa: E402
from ci_trainer.backends.cognigy_v1.backend import CognigyV1Backend  # noqa: E402
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator  # noqa: E402
from ci_trainer.emulator.training import preload  # noqa: E402
from ci_trainer.polling import PollPolicy, PollSchedule, wait_for_job  # noqa: E402
from ci_trainer.redact import Redactor  # noqa: E402

TRAINING_SECONDS = 60.0
DEFAULT_FLOOR = 10.0  # TrainingSection.poll_interval_floor_seconds' default


@dataclass(frozen=True)
class Row:
    measurement: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: ""}[self.ok]


# ------------------------------------------------------------------ (a) polling


@dataclass(frozen=True)
class Poll:
    poller: str
    lag: float
    requests: int


def bench_polling(per_poller: int) -> list[Row]:
    """Three pollers x `per_poller` trainings, all concurrently.

    Training k lasts 60 s plus an offset spread evenly over one 15 s period, so that the
    fixed pollers meet the completion at every phase (an exact 60 s would be a multiple
    of both fixed intervals and flatter them). Each length gets its own emulator (the
    length is an emulator setting) and one training of each poller.
    """
    pollers: dict[str, Callable[[CognigyV1Backend, TrainingJob], JobStatus]] = {
        "ci-trainer (adaptive, 10 s floor)": adaptive,
        "fixed 15 s": fixed(15.0),
        "fixed 2 s": fixed(2.0),
    }
    lengths = [TRAINING_SECONDS + 15.0 * (k + 0.5) / per_poller for k in range(per_poller)]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        dataset = _tiny_dataset(Path(tmp))
        emulators = [
            stack.enter_context(Emulator({"ds": dataset}, time_scale=1.0, training_seconds=length))
            for length in lengths
        ]
        jobs = [(emu, name) for emu in emulators for name in pollers]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [
                pool.submit(_one_training, emu, pollers[name], name, index * 0.05)
                for index, (emu, name) in enumerate(jobs)
            ]
            polls = [future.result() for future in futures]
    rows: list[Row] = []
    by_poller = {name: [p for p in polls if p.poller == name] for name in pollers}
    for name, found in by_poller.items():
        lags = [p.lag for p in found]
        requests = [p.requests for p in found]
        rows.append(
            Row(
                f"(a) {name}: detection lag p50 / max over {len(found)} trainings of "
                f"{min(lengths):.1f}-{max(lengths):.1f} s",
                f"{statistics.median(lags):.2f} s / {max(lags):.2f} s",
            )
        )
        rows.append(
            Row(f"(a) {name}: status requests per training", f"{statistics.mean(requests):.1f}")
        )
    ours = by_poller["ci-trainer (adaptive, 10 s floor)"]
    two = by_poller["fixed 2 s"]
    lag = statistics.median(p.lag for p in ours)
    ratio = statistics.mean(p.requests for p in ours) / statistics.mean(p.requests for p in two)
    rows.insert(0, Row("(a) ci-trainer detection lag p50", f"{lag:.2f} s", "<= 1 s", lag <= 1.0))
    rows.insert(
        1,
        Row(
            "(a) ci-trainer status requests / fixed 2 s poll's",
            f"{ratio:.2f}",
            "<= 0.5",
            ratio <= 0.5,
        ),
    )
    return rows


def _one_training(
    emu: Emulator,
    poll: Callable[[CognigyV1Backend, TrainingJob], JobStatus],
    name: str,
    delay: float,
) -> Poll:
    time.sleep(delay)
    backend = CognigyV1Backend(
        emu.base_url, emu.client_id, emu.client_secret, "bench-model", Redactor()
    )
    target = Target(id="bench-model", label="bench")
    request = TrainingRequest(
        dataset_ids=["ds"], validation_split=0.2, hyperparameters={"epochs": 10, "seed": 1}
    )
    key = f"bench-{name}-{delay}".replace(" ", "-").replace("(", "").replace(")", "")
    key = "".join(ch for ch in key if ch.isalnum() or ch in "-_.")
    job = backend.start_training(target, request, key)
    final = poll(backend, job)
    known = time.monotonic()
    assert final.raw_status == "COMPLETED", final
    backend.close()
    completed = _completion_clock(emu, job.training_id)
    requests = [
        r
        for r in emu.state.requests_for("getTrainingStatus")
        if r.path.endswith(f"/{job.training_id}/status")
    ]
    return Poll(name, known - completed, len(requests))


def _completion_clock(emu: Emulator, training_id: str) -> float:
    """When the emulator's job became COMPLETED, on this process's monotonic clock.

    A benchmark-only peek at the job record: COMPLETED is due at start + apparent length
    (ci_trainer/backends/cognigy_v1/emulator/jobs.py), which the status endpoint reports from then on.
    """
    job = emu.service._jobs[training_id]
    assert job.started_clock is not None and job.compute_seconds is not None
    return job.started_clock + emu.service.timing.apparent_seconds(job.compute_seconds)


def adaptive(backend: CognigyV1Backend, job: TrainingJob) -> JobStatus:
    policy = PollPolicy(floor_seconds=DEFAULT_FLOOR, timeout_seconds=600.0)
    schedule = PollSchedule(policy, time.monotonic())
    return wait_for_job(lambda: backend.training_status(job), schedule, stop=threading.Event())


def fixed(interval: float) -> Callable[[CognigyV1Backend, TrainingJob], JobStatus]:
    def poll(backend: CognigyV1Backend, job: TrainingJob) -> JobStatus:
        while True:
            status = backend.training_status(job)
            if status.state.terminal:
                return status
            time.sleep(interval)

    return poll


def _tiny_dataset(root: Path) -> Path:
    intents = {f"intent_{i}": [f"utterance {i} number {j}" for j in range(12)] for i in range(3)}
    path = root / "tiny.yaml"
    path.write_text(json.dumps(intents), encoding="utf-8")
    return path


# ------------------------------------------------------------------ (b) run overhead


class _RequestLog(logging.Handler):
    """The emulator logs one line per answered request: keep (wall time, line)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.created, record.getMessage()))

    def first(self, containing: str = "") -> float:
        return next(at for at, line in self.lines if containing in line)

    def last(self, containing: str) -> float:
        return [at for at, line in self.lines if containing in line][-1]


@contextmanager
def _request_log() -> Iterator[_RequestLog]:
    logger = logging.getLogger("ci_trainer.emulator")
    handler = _RequestLog()
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


# Where the time of one `run` goes, in order; they add up to the process's wall time.
PHASES = (
    "process start -> first request",
    "first request -> train POST answered",
    "server-side training",
    "job completed -> last status answered",
    "last status -> process exit",
)


def bench_run(repeat: int, training_seconds: float = 5.0) -> list[Row]:
    runs = [_one_run(training_seconds) for _ in range(repeat)]
    overheads = [run["wall"] - run[PHASES[2]] for run in runs]
    firsts = [run[PHASES[0]] for run in runs]
    overhead, first = statistics.median(overheads), statistics.median(firsts)
    rows = [
        Row(
            f"(b) run overhead beyond server-side training ({training_seconds:.0f} s job), "
            f"median of {repeat}",
            f"{overhead:.2f} s (min {min(overheads):.2f})",
            "<= 1 s",
            overhead <= 1.0,
        ),
        Row(
            f"(b) process start to first request, median of {repeat}",
            f"{first:.3f} s (min {min(firsts):.3f})",
            "<= 0.3 s",
            first <= 0.3,
        ),
    ]
    for phase in PHASES:
        median = statistics.median(run[phase] for run in runs)
        rows.append(Row(f"(b) &nbsp; phase: {phase}, median", f"{median:.3f} s"))
    return rows


def _one_run(training_seconds: float) -> dict[str, float]:
    """One `python -m ci_trainer run` on the sample config; seconds per phase (+ "wall")."""
    config = REPO / "training-config.yaml"
    with (
        tempfile.TemporaryDirectory() as tmp,
        _request_log() as log,
        Emulator.from_config(config, time_scale=1.0, training_seconds=training_seconds) as emu,
    ):
        env = _clean_env() | {
            "COGNIGY_BASE_URL": emu.base_url,
            "COGNIGY_CLIENT_ID": emu.client_id,
            "COGNIGY_CLIENT_SECRET": emu.client_secret,
        }
        command = [sys.executable, "-m", "ci_trainer", "run", "--config", str(config)]
        command += ["--output-dir", tmp, "--audit-log", str(Path(tmp) / "audit.log")]
        # The emulator imports scikit-learn in a thread when it starts; done here first,
        # so that import does not hold the GIL while the server should answer the client.
        preload()
        start = time.time()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        end = time.time()
        if done.returncode not in (0, 1):
            raise RuntimeError(f"the run failed:\n{done.stdout}\n{done.stderr}")
        (training,) = emu.state.trainings.values()
        job = emu.service._jobs[training.training_id]
        assert job.compute_seconds is not None
        server_side = emu.service.timing.apparent_seconds(job.compute_seconds)
        # The job's clock is monotonic; the log's is wall time: convert once.
        completed = _completion_clock(emu, training.training_id) + (time.time() - time.monotonic())
    first = log.first()
    trained = log.first("/train -> ")
    last_status = log.last("/status -> ")
    return {
        "wall": end - start,
        PHASES[0]: first - start,
        PHASES[1]: trained - first,
        PHASES[2]: server_side,
        PHASES[3]: last_status - completed,
        PHASES[4]: end - last_status,
    }


def _clean_env() -> dict[str, str]:
    prefixes = ("GITHUB_", "INPUT_", "COGNIGY_", "WEBHOOK_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    return env | {"PYTHONPATH": str(REPO)}


# ------------------------------------------------------------------ (c) validation


def bench_validation(intents: int = 1000, examples: int = 200) -> list[Row]:
    import validation  # benchmarks/validation.py

    from ci_trainer.config.model import TrainingConfig

    config = TrainingConfig.model_validate(
        {"version": 1, "model": {"id": "bench"}, "datasets": [{"id": "ds"}]}
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "intents.yaml"
        validation.write_yaml(path, intents, examples, random.Random(7))
        _, count, size, load_s, load_mib, check_s, check_mib, total, _ = validation.bench_file(
            path, config, 3
        )
    peak = max(load_mib, check_mib)
    return [
        Row(
            f"(c) validation of {intents:,} intents x {examples} examples "
            f"({count:,} examples, {size:.1f} MiB YAML): load + checks",
            f"{total:.2f} s (load {load_s:.2f}, checks {check_s:.2f})",
            "<= 2 s",
            total <= 2.0,
        ),
        Row("(c) validation peak memory (traced)", f"{peak:.0f} MiB"),
    ]


# ------------------------------------------------------------------ (d) summary size


def bench_summary(intents: int = 1000, examples: int = 12) -> list[Row]:
    """A real `run` on `intents` intents; the size of the summary.md it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = {
            f"intent_{i:04d}": [f"please handle request {i} variant {j}" for j in range(examples)]
            for i in range(intents)
        }
        (root / "big.yaml").write_text(json.dumps(data), encoding="utf-8")
        config = {
            "version": 1,
            "model": {"id": "big-model"},
            "datasets": [{"id": "ds-big", "path": "big.yaml"}],
            "validation": {"min_examples_per_intent": 10},
            "training": {"poll_interval_floor_seconds": 0.2},
        }
        (root / "training-config.yaml").write_text(json.dumps(config), encoding="utf-8")
        command = [sys.executable, "-m", "ci_trainer", "run", "--emulator"]
        command += ["--config", str(root / "training-config.yaml"), "--output-dir", str(root)]
        done = subprocess.run(
            command, env=_clean_env(), capture_output=True, text=True, check=False
        )
        summary = root / "summary.md"
        if not summary.exists():
            raise RuntimeError(f"no summary.md:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        size = summary.stat().st_size
        decision = json.loads((root / "outputs.json").read_text(encoding="utf-8"))["decision"]
    return [
        Row(
            f"(d) step summary of a real run on {intents:,} intents (decision {decision})",
            f"{size / 1024:.1f} KiB",
            "< 1 MiB",
            size < 2**20,
        )
    ]


# ------------------------------------------------------------------ (e) image size


def bench_image() -> list[Row]:
    tool = REPO.parent / "shared" / "tools" / "action-image"
    if not tool.exists():
        return [Row("(e) action image size", "not measured: no action-image tool here")]
    started = time.monotonic()
    built = subprocess.run(
        [str(tool), "build", "--repo", str(REPO)], capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    if built.returncode != 0:
        tail = (built.stdout + built.stderr).strip().splitlines()[-3:]
        return [Row("(e) action image size", "build failed: " + " / ".join(tail))]
    size = _image_size("localhost/action-under-test")
    return [Row("(e) action image size (buildah)", f"{size} (built in {seconds:.0f} s)")]


def _image_size(name: str) -> str:
    for tool in ("buildah", "podman"):
        if shutil.which(tool):
            done = subprocess.run(
                [tool, "images", "--format", "{{.Size}}", name],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip().splitlines()[0]
    return "unknown (no buildah/podman to inspect the image)"


# ------------------------------------------------------------------ the table

PARTS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "polling": lambda args: bench_polling(args.trainings),
    "run": lambda args: bench_run(args.repeat),
    "validation": lambda args: bench_validation(),
    "summary": lambda args: bench_summary(),
    "image": lambda args: bench_image(),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PARTS), action="append")
    parser.add_argument("--image", action="store_true", help="also build the action image")
    parser.add_argument("--trainings", type=int, default=5, help="(a) trainings per poller")
    parser.add_argument("--repeat", type=int, default=3, help="(b) runs to take the median of")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    parts = args.only or [name for name in PARTS if name != "image"]
    if args.image and "image" not in parts:
        parts.append("image")
    for name in parts:
        rows += PARTS[name](args)
    print(render(rows))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs, load average {load} (1, 5, 15 min) at the end")
    return 0 if all(row.ok is not False for row in rows) else 1


def render(rows: list[Row]) -> str:
    lines = ["| Measurement | Value | Target | Verdict |", "|---|---|---|---|"]
    lines += [f"| {r.measurement} | {r.value} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""Secret sweep (issue 7): every decision path, every place a run writes, no secret.

One test runs all seven decisions through the container action's entrypoint the way the
GitHub runner starts it (INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files),
plus a bad action input (handed to the same lifecycle), and two through the plain CLI, each against its own emulator and a webhook receiver on
127.0.0.1. The client secret, the webhook secret, a credential in the webhook URL's query
and every bearer token the emulators issued are then searched for in stdout, stderr,
the outputs file, the step summary, the CLI's output folder, every audit log and every
webhook request (body and headers).

On Actions a secret legitimately appears in exactly one form: `::add-mask::<secret>`,
which the runner swallows. Those lines are checked separately: the masks of the
configured secrets come before any other line of output, and each issued token is
masked before anything could print it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from faults.support import Receiver, write_project

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.faults import Fault, FaultPlan

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "sweep-client"
CLIENT_SECRET = "SWEEP-client-secret-3e1d7c9a5b"
WEBHOOK_SECRET = "SWEEP-webhook-secret-8f2a6d4c0e"
URL_TOKEN = "SWEEP-url-token-71c5b9e3"  # a credential some registries take in the query
MASK = "::add-mask::"


@dataclass(frozen=True)
class Scenario:
    """One decision path: how the project, the emulator and the step are set up."""

    decision: str
    mode: str = "train"
    credentials: bool = True
    faults: tuple[Fault, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)  # merged into the project config
    broken_config: bool = False
    cli: bool = False  # `python -m ci_trainer run` instead of the action's entrypoint
    webhook: bool = True  # False: the run ends before a webhook could be sent


PATHS = (
    Scenario("validated", mode="validate"),
    Scenario("approved"),
    Scenario("promoted", mode="promote"),
    Scenario("rejected", config={"gate": {"min_f1": 0.999}}, faults=(
        Fault("getTrainingMetrics", "patch", set={"f1Score": 0.9}),
    )),
    Scenario("invalid", broken_config=True),
    Scenario("invalid", mode="promot"),  # a bad action input: the same lifecycle, webhook too
    Scenario("failed", faults=(Fault("startTraining", "status", status=500),)),
    Scenario("skipped", credentials=False),
    Scenario("promoted", mode="promote", cli=True),
    Scenario("failed", faults=(Fault("getTrainingMetrics", "status", status=500),), cli=True),
)  # fmt: skip


@dataclass
class Step:
    """What one run left behind."""

    path: Scenario
    exit_code: int
    stdout: str
    stderr: str
    files: dict[str, str]  # name -> text: outputs, summary, audit logs, CLI output folder
    decision: str
    tokens: tuple[str, ...]
    webhook: list[str]


def test_no_secret_or_token_leaves_any_decision_path(tmp_path: Path) -> None:
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=3) as pool:
        futures = [
            pool.submit(run_path, path, tmp_path / f"{n}-{path.decision}", stack)
            for n, path in enumerate(PATHS)
        ]
        steps = [future.result() for future in futures]
    assert sorted({step.decision for step in steps}) == sorted(
        {"validated", "approved", "promoted", "rejected", "invalid", "failed", "skipped"}
    )
    tokens = {token for step in steps for token in step.tokens}
    assert tokens, "the emulators issued no token: the sweep would prove nothing about them"
    secrets = {CLIENT_SECRET, WEBHOOK_SECRET, URL_TOKEN, *tokens}
    leaks = [leak for step in steps for leak in find_leaks(step, secrets)]
    assert leaks == []
    for step in steps:
        assert step.decision == step.path.decision, (step.path, step.stdout, step.stderr)
        assert bool(step.webhook) is step.path.webhook, step.path
        if not step.path.cli:
            assert_masks_first(step)


def find_leaks(step: Step, secrets: set[str]) -> Iterator[str]:
    where = f"{step.path.decision}{' (cli)' if step.path.cli else ''}"
    stdout = "\n".join(line for line in step.stdout.splitlines() if not line.startswith(MASK))
    texts = {"stdout": stdout, "stderr": step.stderr, **step.files}
    texts |= {f"webhook request {n}": body for n, body in enumerate(step.webhook)}
    for name, text in texts.items():
        for secret in secrets:
            if secret in text:
                yield f"{where}: {secret[:6]}... in {name}"


def assert_masks_first(step: Step) -> None:
    """The configured secrets (with the other forms the Redactor masks) are masked
    before any other line; tokens before their use."""
    lines = step.stdout.splitlines()
    first = next(n for n, line in enumerate(lines) if not line.startswith(MASK))
    given = [CLIENT_SECRET, WEBHOOK_SECRET] if step.path.credentials else [WEBHOOK_SECRET]
    for secret in given:
        assert f"{MASK}{secret}" in lines[:first], lines[:5]
    masked = {line[len(MASK) :] for line in lines if line.startswith(MASK)}
    assert set(step.tokens) <= masked, "an issued token was never masked"


# ------------------------------------------------------------------------- one run


def run_path(path: Scenario, root: Path, stack: ExitStack) -> Step:
    root.mkdir(parents=True)
    config = write_project(root)
    emulator = Emulator.from_config(
        config,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        time_scale=0.0,
        fault_plan=FaultPlan.of(*path.faults),
    )
    stack.enter_context(emulator)
    receiver = Receiver()
    stack.callback(receiver.close)
    patch_config(config, path)
    url = f"{receiver.url}?token={URL_TOKEN}"
    runner = run_cli if path.cli else run_action
    process, files, decision = runner(path, root, emulator.base_url, url)
    return Step(
        path=path,
        exit_code=process.returncode,
        stdout=process.stdout,
        stderr=process.stderr,
        files=files | audit_logs(root),
        decision=decision,
        tokens=emulator.state.issued_tokens,
        webhook=[body.decode("utf-8", "replace") for body in receiver.bodies]
        + [repr(headers) for headers in receiver.headers],
    )


def patch_config(config: Path, path: Scenario) -> None:
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    for section, values in path.config.items():
        document[section] = {**document.get(section, {}), **values}
    if path.broken_config:
        document["training"]["epochz"] = 10  # a typo: invalid, with a did-you-mean
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def run_action(
    path: Scenario, root: Path, base_url: str, webhook_url: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    commands = root / "file_commands"
    commands.mkdir()
    outputs, summary = commands / "set_output", commands / "step_summary"
    outputs.touch()
    summary.touch()
    inputs = {
        "config": "training-config.yaml",
        "mode": path.mode,
        "webhook-url": webhook_url,
        "webhook-secret": WEBHOOK_SECRET,
        "fail-on-reject": "true",
        "working-directory": ".",
    }
    if path.credentials:
        inputs |= {"base-url": base_url, "client-id": CLIENT_ID, "client-secret": CLIENT_SECRET}
    env = clean_env() | {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(root),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    env |= {f"INPUT_{name.upper()}": value for name, value in inputs.items()}
    process = subprocess.run(
        [sys.executable, str(REPO / "entrypoint.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output_text = outputs.read_text(encoding="utf-8")
    files = {"GITHUB_OUTPUT": output_text, "GITHUB_STEP_SUMMARY": summary.read_text("utf-8")}
    return process, files, output_value(output_text, "decision")


def run_cli(
    path: Scenario, root: Path, base_url: str, webhook_url: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    out = root / "out"
    env = clean_env() | {
        "COGNIGY_BASE_URL": base_url,
        "COGNIGY_CLIENT_ID": CLIENT_ID,
        "COGNIGY_CLIENT_SECRET": CLIENT_SECRET,
        "WEBHOOK_URL": webhook_url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    command = [sys.executable, "-m", "ci_trainer", "run", "--config", "training-config.yaml"]
    command += ["--mode", path.mode, "--output-dir", str(out)]
    process = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    files = {f"out/{f.name}": f.read_text("utf-8") for f in sorted(out.iterdir()) if f.is_file()}
    decision = json.loads(files["out/outputs.json"])["decision"]
    return process, files, str(decision)


def clean_env() -> dict[str, str]:
    """This process's environment without anything a run would read as its settings."""
    prefixes = ("GITHUB_", "INPUT_", "COGNIGY_", "WEBHOOK_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    return env | {"PYTHONPATH": str(REPO)}


def output_value(text: str, name: str) -> str:
    """One value from a GITHUB_OUTPUT file (`name=value` or `name<<DELIM` ... `DELIM`)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
        if line.startswith(f"{name}<<"):
            delimiter = line.split("<<", 1)[1]
            end = lines.index(delimiter, index + 1)
            return "\n".join(lines[index + 1 : end])
    msg = f"no output {name!r} in GITHUB_OUTPUT"
    raise AssertionError(msg)


def audit_logs(root: Path) -> dict[str, str]:
    """Every audit log under the project, the fallback file included."""
    logs = [*root.rglob("*.log"), *root.rglob("*audit*.jsonl")]
    return {str(log.relative_to(root)): log.read_text("utf-8") for log in logs if log.is_file()}

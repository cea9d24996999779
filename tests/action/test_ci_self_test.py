"""The CI self-test job, run step by step on this machine the way the runner runs it.

GitHub runs `.github/workflows/ci.yml`'s self-test job; nothing here can. So this test
reads the job and runs its steps in order: `run:` steps with bash as the runner does
(`bash --noprofile --norc -eo pipefail`), each with its `env:` and a GITHUB_OUTPUT file;
`uses: ./` steps as the runner runs a container action (mini_workspace: INPUT_* from
action.yml and `with:`, the step's `env:`, file commands). Expressions are the few the job
uses, evaluated from earlier steps' outputs; any other expression fails the test, so the
job cannot drift away from what is tested here.

What stays untested: the container's own network namespace. Here the action runs on the
host, so it reaches the emulator on the runner's address as any process would; the
emulator listens on that address (not loopback) with https, as in the job.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from mini_workspace import REPO, run_step
from runner_files import read_github_output

pytest.importorskip("werkzeug")  # the emulator extra
pytest.importorskip("cryptography")  # the emulator's test CA

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
RUN_ID = "4242"
# Steps the job needs on a bare runner that this machine already is.
NOT_RUN_HERE = {
    "actions/checkout@v4": "the workspace is a copy of the repository's sample files",
    "actions/setup-python@v5": "this test runs in a Python with the package installed",
    "Install the emulator": "this test's environment has the emulator extra",
}
# What the job's steps read from the checkout.
CHECKOUT = ("training-config.yaml", "datasets", ".ci")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_STEP_OUTPUT = re.compile(r"^steps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)$")


@dataclass
class Job:
    workspace: Path
    temp: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    def evaluate(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression == "github.run_id":
                return RUN_ID
            step_output = _STEP_OUTPUT.match(expression)
            if step_output is None:
                pytest.fail(f"ci.yml uses ${{{{ {expression} }}}}, which this test cannot run")
            step_id, name = step_output.groups()
            return self.outputs.get(step_id, {}).get(name, "")

        return _EXPRESSION.sub(value, text)

    def run(self, step: dict[str, Any]) -> None:
        label = step.get("name") or step.get("uses") or step.get("run", "")[:40]
        env = {key: self.evaluate(str(value)) for key, value in step.get("env", {}).items()}
        if step.get("uses") == "./":
            outputs = self._use_action(step, env)
        else:
            outputs = self._run_shell(label, self.evaluate(step["run"]), env)
        if "id" in step:
            self.outputs[step["id"]] = outputs
        self.ran.append(label)

    def _use_action(self, step: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
        inputs = {name: self.evaluate(str(value)) for name, value in step["with"].items()}
        run = run_step(self.workspace, self.temp / f"step-{len(self.ran)}", env, **inputs)
        assert "Traceback" not in run.stderr, run.stderr
        assert run.exit_code == 0, f"{step['name']}: exit {run.exit_code}\n{run.stdout}"
        return run.outputs

    def _run_shell(self, label: str, script: str, env: dict[str, str]) -> dict[str, str]:
        output_file = self.temp / f"output-{len(self.ran)}"
        output_file.write_text("", encoding="utf-8")
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("GITHUB_", "INPUT_", "COGNIGY_", "REQUESTS_CA_BUNDLE"))
        }
        environment.update(
            {
                # `python` and `ci-trainer` from this test's environment, as setup-python
                # and the install step would provide them
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_RUN_ID": RUN_ID,
                "RUNNER_TEMP": str(self.temp),
                **env,
            }
        )
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workspace,
            env=environment,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, f"{label}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
        return read_github_output(output_file)

    def stop_emulator(self) -> None:
        pid_file = self.temp / "emulator.pid"
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGTERM)


def self_test_steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = workflow["jobs"]["self-test"]["steps"]
    return steps


def is_run_here(step: dict[str, Any]) -> bool:
    if step.get("uses") in NOT_RUN_HERE or step.get("name") in NOT_RUN_HERE:
        return False
    # `failure()` steps only show logs; they run on GitHub when something above failed.
    return step.get("if") != "failure()"


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in CHECKOUT:
        source = REPO / name
        if source.is_dir():
            subprocess.run(["cp", "-R", str(source), str(workspace / name)], check=True)
        else:
            (workspace / name).write_bytes(source.read_bytes())
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    running = Job(workspace=workspace, temp=temp)
    yield running
    running.stop_emulator()


def test_the_self_test_job_passes_here(job: Job) -> None:
    steps = self_test_steps()
    for step in steps:
        if is_run_here(step):
            job.run(step)

    uses_action = [step["id"] for step in steps if step.get("uses") == "./"]
    assert uses_action == ["validate", "fork", "train", "promote"]
    assert job.outputs["train"]["decision"] == "approved"
    assert job.outputs["promote"]["decision"] == "promoted"
    # The emulator served https on an address other than loopback, and the action
    # verified its certificate with the CA the job handed over in REQUESTS_CA_BUNDLE.
    base_url = job.outputs["emulator"]["base-url"]
    assert base_url.startswith("https://") and "127.0.0.1" not in base_url
    assert (job.workspace / job.outputs["emulator"]["ca-bundle"]).is_file()
    assert job.ran == [step.get("name") or step.get("uses") for step in steps if is_run_here(step)]


def test_only_setup_and_log_steps_are_left_to_github() -> None:
    for step in self_test_steps():
        if is_run_here(step):
            continue
        if step.get("if") == "failure()":
            assert "uses" not in step, step  # a log dump, not an action
        elif "run" in step:
            assert step["name"] in NOT_RUN_HERE, step
            assert step["run"].strip().startswith("python -m pip install"), step
        else:
            assert step["uses"] in NOT_RUN_HERE, step

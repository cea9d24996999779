"""A small checked-out repository (config + dataset) and the runner's view of a step.

The dataset is tiny and separable so a real emulator training takes well under a
second; thresholds in the config decide whether the run is approved or rejected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from runner_files import read_github_output

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "contract-test-client"
CLIENT_SECRET = "contract-test-secret-9f3b27"  # distinctive, to grep every output for it

_VOCABULARY = {
    "track_order": ["where is my parcel", "track my order", "has my package shipped"],
    "cancel_order": ["cancel my order", "stop the purchase", "i do not want the order"],
    "refund": ["give me my money back", "refund the payment", "return for a refund"],
    "opening_hours": ["when do you open", "what are your hours", "are you open on sunday"],
}
_TAILS = ["please", "now", "today", "quickly", "thanks", "asap", "for me", "again", "soon"]


# Utterances that read like one intent but are labelled as another (as in real data),
# so the candidate is good but not perfect and a strict threshold can reject it.
_CONFUSABLE = {
    "refund": ["cancel my order mate", "cancel my order ok", "stop the purchase mate"],
    "track_order": ["when do you open mate", "what are your hours ok", "refund the payment ok"],
    "opening_hours": ["track my order mate", "where is my parcel ok", "cancel my order yes"],
}


def dataset() -> dict[str, list[str]]:
    data = {
        intent: [f"{phrase} {tail}" for phrase in phrases for tail in _TAILS][:15]
        for intent, phrases in _VOCABULARY.items()
    }
    for intent, texts in _CONFUSABLE.items():
        data[intent] += texts
    return data


def config(**gate: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "model": {"id": "shop-nlu"},
        "datasets": [{"id": "ds_shop", "path": "datasets/shop.yaml"}],
        "validation": {"max_imbalance_ratio": 5.0, "min_examples_per_intent": 10},
        "training": {
            "validation_split": 0.2,
            "poll_interval_floor_seconds": 0.1,
            "timeout_minutes": 2,
            "hyperparameters": {"epochs": 10, "seed": 7},
        },
        "gate": {"min_f1": 0.5, "min_precision": 0.5, **gate},
        "audit": {"path": "audit/training-audit.log"},
    }


def make_workspace(root: Path, **gate: Any) -> Path:
    (root / "datasets").mkdir(parents=True)
    (root / "datasets" / "shop.yaml").write_text(yaml.safe_dump(dataset()), encoding="utf-8")
    write_config(root, config(**gate))
    return root


def write_config(root: Path, document: dict[str, Any] | str) -> None:
    text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
    (root / "training-config.yaml").write_text(text, encoding="utf-8")


def action_inputs() -> dict[str, str]:
    spec = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))["inputs"]
    return {name: str(item.get("default", "")) for name, item in spec.items()}


@dataclass
class StepRun:
    exit_code: int
    outputs: dict[str, str]
    summary: str
    stdout: str
    stderr: str
    workspace: Path

    def everything(self) -> str:
        """All text the step left behind, for secret sweeps."""
        audit = self.workspace / self.outputs.get("audit-log", "") if self.outputs else None
        audit_text = audit.read_text(encoding="utf-8") if audit and audit.is_file() else ""
        # `::add-mask::` lines carry the secret to the runner, which never prints them.
        stdout = "\n".join(
            line for line in self.stdout.splitlines() if not line.startswith("::add-mask::")
        )
        return "\n".join([stdout, self.stderr, self.summary, json.dumps(self.outputs), audit_text])


def runner_env(
    workspace: Path, files: Path, inputs: dict[str, str], step_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment the runner gives a container action (DESIGN.md), on this host;
    `step_env` is the step's `env:`, which the runner passes into the container."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "INPUT_", "COGNIGY_", "WEBHOOK_"))
    }
    env.update(
        {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(files / "set_output"),
            "GITHUB_STEP_SUMMARY": str(files / "step_summary"),
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_REPOSITORY": "acme/nlu-models",
            "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
            "GITHUB_REF": "refs/pull/7/merge",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_ACTOR": "octocat",
            "HOME": str(files / "home"),
        }
    )
    env.update(step_env or {})
    values = action_inputs()
    values.update(inputs)
    for name, value in values.items():
        env[f"INPUT_{name.replace(' ', '_').upper()}"] = value
    return env


def start_step(
    workspace: Path, tmp: Path, step_env: dict[str, str] | None = None, **inputs: str
) -> tuple[subprocess.Popen[str], Path]:
    """Start entrypoint.py the way the runner starts the container's ENTRYPOINT."""
    files = tmp / "file_commands"
    files.mkdir(parents=True, exist_ok=True)
    (files / "home").mkdir(exist_ok=True)
    for name in ("set_output", "step_summary"):
        (files / name).write_text("", encoding="utf-8")
    env = runner_env(workspace, files, inputs, step_env)
    process = subprocess.Popen(
        [sys.executable, str(REPO / "entrypoint.py")],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, files


def finish_step(
    process: subprocess.Popen[str], files: Path, workspace: Path, timeout: float = 120
) -> StepRun:
    stdout, stderr = process.communicate(timeout=timeout)
    return StepRun(
        exit_code=process.returncode,
        outputs=read_github_output(files / "set_output"),
        summary=(files / "step_summary").read_text(encoding="utf-8"),
        stdout=stdout,
        stderr=stderr,
        workspace=workspace,
    )


def run_step(
    workspace: Path, tmp: Path, step_env: dict[str, str] | None = None, **inputs: str
) -> StepRun:
    """Run entrypoint.py to the end, as one step."""
    process, files = start_step(workspace, tmp, step_env, **inputs)
    return finish_step(process, files, workspace)

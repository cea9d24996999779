"""The container action with `backend: cognigy-v2` and the inputs `client-id` /
`client-secret` (issue 13 item 2): started as the runner starts it (INPUT_* variables,
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files), against the v2 emulator on 127.0.0.1.

On Actions a secret may appear in exactly one form, `::add-mask::<secret>`, which the
runner swallows: the client secret is masked before anything else is printed, every
issued token is masked, and neither appears anywhere else the step wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator

REPO = Path(__file__).resolve().parents[3]
CLIENT_ID = "action-oauth2-client"
CLIENT_SECRET = "ACTION-v2-client-secret-61f0d2b8"
MASK = "::add-mask::"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    target = tmp_path / "workspace"
    shutil.copytree(REPO / "examples/cognigy-v2", target)
    config = target / "training-config.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["training"]["poll_interval_floor_seconds"] = 0.1
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture
def emu(workspace: Path) -> Iterator[V2Emulator]:
    emulator = V2Emulator.from_config(
        workspace / "training-config.yaml",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        epochs=10,
    )
    emulator.start()
    yield emulator
    emulator.stop()


def _step(workspace: Path, tmp: Path, inputs: dict[str, str]) -> subprocess.CompletedProcess[str]:
    files = tmp / "file_commands"
    files.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "INPUT_", "COGNIGY_", "WEBHOOK_"))
    }
    env |= {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(files / "set_output"),
        "GITHUB_STEP_SUMMARY": str(files / "step_summary"),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_RUN_ID": "77",
        "INPUT_CONFIG": "training-config.yaml",
        "INPUT_MODE": "train",
    }
    env |= {f"INPUT_{name.upper()}": value for name, value in inputs.items()}
    for name in ("set_output", "step_summary"):
        (files / name).write_text("", encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(REPO / "entrypoint.py")],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _written(workspace: Path, tmp: Path, step: subprocess.CompletedProcess[str]) -> str:
    files = [p for p in (tmp / "file_commands").iterdir() if p.is_file()]
    files += [p for p in workspace.rglob("*.log") if p.is_file()]
    stdout = "\n".join(line for line in step.stdout.splitlines() if not line.startswith(MASK))
    return "\n".join([stdout, step.stderr, *(p.read_text(encoding="utf-8") for p in files)])


def test_the_action_trains_with_oauth2_client_credentials_and_masks_every_token(
    workspace: Path, emu: V2Emulator, tmp_path: Path
) -> None:
    step = _step(
        workspace,
        tmp_path,
        {"BASE-URL": emu.base_url, "CLIENT-ID": CLIENT_ID, "CLIENT-SECRET": CLIENT_SECRET},
    )
    assert step.returncode == 0, step.stdout + step.stderr
    output = (tmp_path / "file_commands/set_output").read_text(encoding="utf-8").splitlines()
    heads = [n for n, line in enumerate(output) if line.startswith("decision<<")]
    assert len(heads) == 1 and output[heads[0] + 1] == "approved"  # name<<DELIM, value, DELIM
    # The intents exports, one per flow x locale, relative to the workspace (for
    # upload-artifact on the host), each a file the step wrote there.
    head = next(n for n, line in enumerate(output) if line.startswith("intents-export<<"))
    delimiter = output[head].split("<<", 1)[1]
    exports = output[head + 1 : output.index(delimiter, head + 1)]
    assert len(exports) == 3
    assert all(p.startswith("cognigy-export-") and (workspace / p).is_file() for p in exports)
    tokens = emu.tokens.issued
    assert len(tokens) == 1
    lines = step.stdout.splitlines()
    assert lines[0] == MASK + CLIENT_SECRET  # before anything else is printed
    assert MASK + tokens[0] in lines
    written = _written(workspace, tmp_path, step)
    for secret in (CLIENT_SECRET, *tokens):
        assert secret not in written


def test_the_action_refuses_an_api_key_and_client_credentials_together(
    workspace: Path, emu: V2Emulator, tmp_path: Path
) -> None:
    step = _step(
        workspace,
        tmp_path,
        {
            "BASE-URL": emu.base_url,
            "API-KEY": "ACTION-v2-api-key-0b7e55aa",
            "CLIENT-ID": CLIENT_ID,
            "CLIENT-SECRET": CLIENT_SECRET,
        },
    )
    assert step.returncode == 2, step.stdout + step.stderr
    errors = [line for line in step.stdout.splitlines() if line.startswith("::error")]
    assert any(
        "both an API key (COGNIGY_API_KEY) and OAuth2 client credentials" in e for e in errors
    )
    assert "Traceback" not in step.stdout + step.stderr
    assert len(emu.app.log) == 0
    written = _written(workspace, tmp_path, step)
    assert CLIENT_SECRET not in written and "ACTION-v2-api-key-0b7e55aa" not in written

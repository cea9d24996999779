"""`ci-trainer run` / `validate` from the command line, with the embedded emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ci_trainer.audit import verify_file
from ci_trainer.cli import main
from ci_trainer.config import LoadedConfig

from .conftest import Harness

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = REPO_ROOT / "training-config.yaml"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials or CI variables from the developer's shell leak into a test run."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_")):
            monkeypatch.delenv(name)


def cli_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_"))
    }


def outputs(directory: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((directory / "outputs.json").read_text(encoding="utf-8"))
    return data


def run_sample(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ci_trainer",
            "run",
            "--config",
            "training-config.yaml",
            "--emulator",
            # Its own state folder: the runs of the suite never share a champion.
            "--emulator-state",
            str(tmp_path / "emulator-state"),
            "--mode",
            mode,
            "--audit-log",
            str(tmp_path / "audit.log"),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        cwd=REPO_ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(not SAMPLE_CONFIG.exists(), reason="the sample config is not in the tree")
def test_the_sample_config_runs_end_to_end_in_train_mode(tmp_path: Path) -> None:
    done = run_sample(tmp_path, "train")
    decision = outputs(tmp_path / "out")["decision"]
    # The sample's real metrics decide; either verdict is a correct end-to-end run.
    assert (done.returncode, decision) in ((0, "approved"), (1, "rejected")), done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith(f"ci-trainer: {decision} - ")
    assert verify_file(tmp_path / "audit.log").ok
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not SAMPLE_CONFIG.exists(), reason="the sample config is not in the tree")
def test_the_sample_config_promotes_in_promote_mode(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process (the subprocess path is the test above): same CLI, no second cold start.
    monkeypatch.chdir(REPO_ROOT)
    code = main(
        [
            "run",
            "--config",
            "training-config.yaml",
            "--emulator",
            "--emulator-state",
            str(tmp_path / "emulator-state"),
            "--mode",
            "promote",
            "--audit-log",
            str(tmp_path / "audit.log"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0, harness.output()[1]
    assert outputs(tmp_path / "out")["decision"] == "promoted"
    assert outputs(tmp_path / "out")["promoted"] == "true"


def test_run_with_emulator_in_process(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--config", str(config), "--emulator", "--output-dir", "out"])
    out, err = harness.output()
    assert code == 0, err
    assert outputs(tmp_path / "out")["decision"] == "approved"
    assert out.strip().splitlines()[-1].startswith("ci-trainer: approved - ")
    assert "emulator serving http://127.0.0.1:" in err
    assert verify_file(config.parent / "audit.log").ok


def test_validate_command_needs_no_credentials(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--config", str(config), "--output-dir", "out"]) == 0
    assert outputs(tmp_path / "out")["decision"] == "validated"


def test_run_without_credentials_is_skipped_with_exit_0(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--config", str(config), "--output-dir", "out"]) == 0
    assert outputs(tmp_path / "out")["decision"] == "skipped"
    assert "forks get no secrets" in harness.output()[1]


def test_invalid_config_exits_2_and_points_at_the_line(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project({"training": {"validation_split": 0.9}})
    monkeypatch.chdir(tmp_path)
    # --emulator with a broken config: the same located error as without it.
    code = main(["run", "--config", str(config), "--emulator", "--output-dir", "out"])
    _, err = harness.output()
    assert code == 2
    line = next(
        n
        for n, text in enumerate(config.read_text(encoding="utf-8").splitlines(), 1)
        if "validation_split" in text
    )
    assert f"{config}:{line}" in err
    assert "training.validation_split" in err
    assert "Traceback" not in err
    assert outputs(tmp_path / "out")["decision"] == "invalid"


def test_rejected_exits_1(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project({"validation": {"min_examples_per_intent": 40}})
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--config", str(config), "--emulator", "--output-dir", "out"]) == 1


def test_on_github_actions_outputs_go_to_the_runner_files(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    for name, value in harness.env(emu).items():
        monkeypatch.setenv(name, value)
    github_output = tmp_path / "github_output"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--config", str(config), "--mode", "promote"])
    out, err = harness.output()
    assert code == 0, out + err
    assert "::group::Train (attempt 1)" in out
    # The client secret is masked before anything else is printed.
    first_command = next(line for line in out.splitlines() if line.startswith("::"))
    assert first_command.startswith("::add-mask::")
    assert "decision<<" in github_output.read_text(encoding="utf-8")
    assert "promoted" in github_output.read_text(encoding="utf-8")
    assert summary.read_text(encoding="utf-8").strip()


def test_the_console_output_holds_no_secret_even_on_auth_failure(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    wrong = "wrong-secret-that-must-not-print-1234"
    harness.guard.secret(wrong)
    for name, value in harness.env(emu, COGNIGY_CLIENT_SECRET=wrong).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--config", str(config), "--output-dir", "out"]) == 3
    harness.guard.file(tmp_path / "out" / "outputs.json")
    harness.guard.file(tmp_path / "out" / "summary.md")


def test_run_with_emulator_reads_the_config_once(
    harness: Harness, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lifecycle reads the config, and the emulator is built from what it read."""
    import ci_trainer.config.loader
    import ci_trainer.run

    loads: list[str] = []
    parses: list[object] = []
    load_config = ci_trainer.run.load_config
    parse_config = ci_trainer.config.loader.parse_config

    def counting_load(path: str | Path, **kwargs: Any) -> LoadedConfig:
        loads.append(str(path))
        return load_config(path, **kwargs)

    def counting_parse(*args: Any, **kwargs: Any) -> Any:
        parses.append(args)  # any load_config anywhere (the emulator's too) parses
        return parse_config(*args, **kwargs)

    monkeypatch.setattr(ci_trainer.run, "load_config", counting_load)
    monkeypatch.setattr(ci_trainer.config.loader, "parse_config", counting_parse)
    config = harness.project()
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--config", str(config), "--emulator", "--output-dir", "out"])
    assert code == 0, harness.output()[1]
    assert outputs(tmp_path / "out")["decision"] == "approved"
    assert loads == [str(config)]
    assert len(parses) == 1

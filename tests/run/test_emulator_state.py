"""`run --emulator` keeps its state between runs and starts from a baseline (issue 15 item 10).

Each test runs the real CLI on a copy of the repository's sample layout
(training-config.yaml and datasets/) in its own folder, made a git repository where the
test needs history.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ci_trainer.cli import main

from .conftest import Harness

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE = ".ci-trainer-emulator"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample layout, polling fast, with no credentials or CI variables around."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_")):
            monkeypatch.delenv(name)
    # No repository above the copy is ever found (tmp_path is outside one anyway).
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "datasets", project / "datasets")
    data = yaml.safe_load((REPO_ROOT / "training-config.yaml").read_text(encoding="utf-8"))
    data["training"]["poll_interval_floor_seconds"] = 0.1
    (project / "training-config.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.chdir(project)
    return project


def commit_all(project: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "sample")
    return git("rev-parse", "HEAD")


def run(harness: Harness, *extra: str) -> tuple[int, str, str]:
    code = main(
        ["run", "--config", "training-config.yaml", "--emulator", "--output-dir", "out", *extra]
    )
    _, err = harness.output()
    summary = Path("out/summary.md").read_text(encoding="utf-8")
    return code, err, summary


def champion_section(summary: str) -> str:
    return summary.split("### Champion / challenger", 1)[1].split("\n### ", 1)[0]


@needs_git
def test_a_fresh_clone_compares_with_the_merge_base_baseline_and_keeps_it(
    harness: Harness, sample: Path
) -> None:
    commit = commit_all(sample)
    code, err, summary = run(harness)
    assert code == 0, err
    said = f"production ver-00001 is the emulator's baseline from commit {commit[:12]}"
    assert said in err and said in summary
    section = champion_section(summary)
    assert "Not compared" not in section
    assert "| Version | ver-00002 | ver-00001 |" in section
    assert "| Macro F1 |" in section
    kept = json.loads((sample / STATE / "state.json").read_text(encoding="utf-8"))
    assert kept["production"]["shop-assistant"]["origin"].endswith(commit[:12])

    # The second run trains the kept champion again and says so.
    code, err, summary = run(harness)
    assert code == 0, err
    assert f"baseline from commit {commit[:12]}, kept in {STATE}" in err
    assert "| Version | ver-00002 | ver-00001 |" in champion_section(summary)


@needs_git
def test_a_promoted_candidate_is_the_next_runs_champion_until_the_reset_flag(
    harness: Harness, sample: Path
) -> None:
    commit_all(sample)
    code, err, _ = run(harness, "--mode", "promote")
    assert code == 0, err
    code, err, summary = run(harness)
    assert code == 0, err
    assert "production ver-00002 is promoted by a run on" in err
    assert "| Version | ver-00003 | ver-00002 |" in champion_section(summary)

    code, err, summary = run(harness, "--emulator-reset")
    assert code == 0, err
    assert "production ver-00001 is the emulator's baseline from commit" in err
    assert "| Version | ver-00002 | ver-00001 |" in champion_section(summary)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"format": "ci-trainer emulator state", "version": 1', "is not readable JSON"),
        ('{"kind": "something else"}', "is not a ci-trainer emulator state file"),
        (
            '{"format": "ci-trainer emulator state", "version": 1, "backend": "cognigy-v2"}',
            "holds the state of a `backend: cognigy-v2` emulator",
        ),
        (
            '{"format": "ci-trainer emulator state", "version": 1, "backend": "cognigy-v1",'
            ' "production": {"m": {"version_id": "../x"}}}',
            "production.m.version_id",
        ),
    ],
)
def test_a_corrupt_or_foreign_state_folder_is_a_clear_error(
    harness: Harness, sample: Path, content: str, problem: str
) -> None:
    (sample / STATE).mkdir()
    (sample / STATE / "state.json").write_text(content, encoding="utf-8")
    code, err, summary = run(harness)
    assert code == 2, err
    assert f"emulator state folder {STATE}: " in err
    assert problem in err
    assert "run again with --emulator-reset" in err
    assert "Traceback" not in err
    assert "Invalid" in summary and "emulator state folder" in summary


def test_without_git_history_one_line_says_how_to_see_the_comparison(
    harness: Harness, sample: Path
) -> None:
    code, err, summary = run(harness, "--emulator-state", "elsewhere")
    assert code == 0, err
    hints = [line for line in err.splitlines() if "no baseline to compare with" in line]
    assert len(hints) == 1
    assert "run once with --mode promote and the next run compares against that model" in hints[0]
    assert "(kept in elsewhere)" in hints[0]
    assert "Not compared" in champion_section(summary)
    assert (sample / "elsewhere" / "state.json").is_file()
    assert not (sample / STATE).exists()


def test_the_state_options_without_emulator_are_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(REPO_ROOT / "training-config.yaml", tmp_path)
    shutil.copytree(REPO_ROOT / "datasets", tmp_path / "datasets")
    code = main(
        [
            "run",
            "--config",
            str(tmp_path / "training-config.yaml"),
            "--emulator-reset",
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    printed = capsys.readouterr()
    assert "--emulator-reset is about the embedded emulator" in printed.out + printed.err

"""Constructed repositories for the data diff: the sample layout committed on main (the
base), then a pull request's commit on a branch, made with the git CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET = "datasets/customer_service.yaml"
HOLDOUT = "datasets/holdout.yaml"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return done.stdout.strip()


def sample_project(folder: Path, *, fast_polling: bool = True) -> Path:
    """The repository's sample config and datasets, copied into `folder`."""
    shutil.copytree(REPO_ROOT / "datasets", folder / "datasets")
    data = yaml.safe_load((REPO_ROOT / "training-config.yaml").read_text(encoding="utf-8"))
    if fast_polling:
        data["training"]["poll_interval_floor_seconds"] = 0.1
    (folder / "training-config.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder


def edit_yaml(folder: Path, path: str, change: Callable[[dict[str, Any]], None]) -> None:
    file = folder / path
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(data)
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def base_and_pull_request(
    folder: Path,
    change: Callable[[Path], None],
    *,
    branch: str = "feature",
) -> tuple[str, str]:
    """The sample committed on main, then `change` applied and committed on `branch`
    (checked out); the two commits."""
    sample_project(folder)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "base")
    base = git(folder, "rev-parse", "HEAD")
    git(folder, "checkout", "-q", "-b", branch)
    change(folder)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "pull request")
    return base, git(folder, "rev-parse", "HEAD")


def isolate_from_ci(monkeypatch: pytest.MonkeyPatch, ceiling: Path) -> None:
    """No CI, credential, webhook or git variable of this machine reaches the run, and
    git looks for no repository above `ceiling`."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_", "GIT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(ceiling))


def shallow_clone(origin: Path, clone: Path, *, branch: str = "feature") -> None:
    """actions/checkout's default: one commit of `branch`, no other ref fetched."""
    git(
        clone.parent, "clone", "-q", "--depth", "1", "--branch", branch, origin.as_uri(), str(clone)
    )

"""Fixtures for config tests: a throwaway workspace holding a config and its datasets."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

DATASET = "greet:\n  - hello\n  - hi there\nbye:\n  - goodbye\n"

ConfigWriter = Callable[..., Path]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace (the current directory) with two small datasets and a holdout."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "intents.yaml").write_text(DATASET, encoding="utf-8")
    (tmp_path / "data" / "more.yaml").write_text(DATASET, encoding="utf-8")
    (tmp_path / "data" / "holdout.yaml").write_text("greet:\n  - hey\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def write_config(workspace: Path) -> ConfigWriter:
    """Write `text` (dedented) as training-config.yaml in the workspace; return its path."""

    def write(text: str, name: str = "training-config.yaml") -> Path:
        path = workspace / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write

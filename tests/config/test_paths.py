"""Paths named by the config stay inside the workspace: `..`, absolute, symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_trainer.config import load_config
from ci_trainer.errors import ConfigError
from ci_trainer.workspace import (
    OutsideWorkspace,
    default_workspace,
    is_inside,
    resolve_inside,
)

from .conftest import ConfigWriter


def config_with_path(path: str, section: str = "datasets") -> str:
    if section == "datasets":
        return f"version: 1\nmodel: {{id: m}}\ndatasets:\n  - id: ds\n    path: {path}\n"
    return f"version: 1\nmodel: {{id: m}}\ndatasets: [{{id: ds}}]\n{section}:\n  path: {path}\n"


def only_issue(path: Path, workspace: Path | None = None) -> tuple[int | None, str, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, workspace=workspace)
    (issue,) = caught.value.issues
    return issue.line, issue.field, issue.message


def test_symlink_pointing_outside_is_rejected(
    write_config: ConfigWriter, workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text("a:\n  - b\n", encoding="utf-8")
    (workspace / "data" / "link.yaml").symlink_to(outside)
    line, field, message = only_issue(write_config(config_with_path("data/link.yaml")))
    assert (line, field) == (5, "datasets[0].path")
    assert message == (
        f"path not allowed: 'data/link.yaml' resolves to {outside.resolve()}, outside the "
        f"workspace {workspace.resolve()}"
    )


def test_symlinked_directory_pointing_outside_is_rejected(
    write_config: ConfigWriter, workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside_dir")
    (outside / "x.yaml").write_text("a:\n  - b\n", encoding="utf-8")
    (workspace / "linked").symlink_to(outside, target_is_directory=True)
    _, field, message = only_issue(write_config(config_with_path("linked/x.yaml")))
    assert field == "datasets[0].path"
    assert "outside the workspace" in message


def test_symlink_inside_the_workspace_is_fine(write_config: ConfigWriter, workspace: Path) -> None:
    (workspace / "data" / "alias.yaml").symlink_to(workspace / "data" / "intents.yaml")
    loaded = load_config(write_config(config_with_path("data/alias.yaml")))
    assert loaded.resolve("data/alias.yaml") == (workspace / "data" / "intents.yaml").resolve()


def test_symlink_loop_is_reported(write_config: ConfigWriter, workspace: Path) -> None:
    (workspace / "loop_a").symlink_to(workspace / "loop_b")
    (workspace / "loop_b").symlink_to(workspace / "loop_a")
    _, field, message = only_issue(write_config(config_with_path("loop_a/x.yaml")))
    assert field == "datasets[0].path"
    assert message.startswith("path not allowed: ")


@pytest.mark.parametrize(
    "section,line,field", [("holdout", 5, "holdout.path"), ("audit", 5, "audit.path")]
)
def test_holdout_and_audit_paths_are_confined(
    write_config: ConfigWriter, section: str, line: int, field: str
) -> None:
    got = only_issue(write_config(config_with_path("../../elsewhere.log", section)))
    assert got[:2] == (line, field)
    assert "outside the workspace" in got[2]


def test_audit_path_need_not_exist(write_config: ConfigWriter) -> None:
    loaded = load_config(write_config(config_with_path("logs/new-audit.jsonl", "audit")))
    assert loaded.config.audit.path == "logs/new-audit.jsonl"


def test_explicit_workspace_narrows_confinement(
    write_config: ConfigWriter, workspace: Path
) -> None:
    path = write_config(config_with_path("data/intents.yaml"))
    (workspace / "other").mkdir()
    line, field, message = only_issue(path, workspace=workspace / "other")
    assert (line, field) == (5, "datasets[0].path")
    assert "outside the workspace" in message


def test_empty_path_is_reported(write_config: ConfigWriter) -> None:
    line, field, message = only_issue(write_config(config_with_path("''")))
    assert (line, field, message) == (5, "datasets[0].path", "path not allowed: the path is empty")


def test_default_workspace_is_cwd_or_the_config_directory(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "ml").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert default_workspace(repo / "ml" / "c.yaml", cwd=repo) == repo.resolve()
    assert default_workspace(elsewhere / "c.yaml", cwd=repo) == elsewhere.resolve()


def test_resolve_inside_unit(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    assert resolve_inside("a/../b", base=root, workspace=root) == root / "b"
    assert is_inside(root, root)
    assert not is_inside(root.parent, root)
    with pytest.raises(OutsideWorkspace, match="NUL"):
        resolve_inside("a\x00b", base=root, workspace=root)
    with pytest.raises(OutsideWorkspace, match="outside the workspace"):
        resolve_inside(os.sep + "etc", base=root, workspace=root)
    # A sibling whose name starts with the workspace's name is still outside.
    sibling = Path(str(root) + "-other")
    with pytest.raises(OutsideWorkspace, match="outside the workspace"):
        resolve_inside(str(sibling / "x"), base=root, workspace=root)


def test_directory_or_fifo_instead_of_a_dataset_file(
    write_config: ConfigWriter, workspace: Path
) -> None:
    os.mkfifo(workspace / "data" / "pipe.yaml")
    for target in ("data", "data/pipe.yaml"):
        line, field, message = only_issue(write_config(config_with_path(target)))
        assert (line, field) == (5, "datasets[0].path")
        assert message == f"not a regular file: '{target}' ({(workspace / target).resolve()})"


def test_symlinked_config_keeps_its_own_directory(
    workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    real = tmp_path_factory.mktemp("real") / "training-config.yaml"
    real.write_text(config_with_path("data/intents.yaml"), encoding="utf-8")
    link = workspace / "training-config.yaml"
    link.symlink_to(real)
    assert default_workspace(Path("training-config.yaml")) == workspace.resolve()
    loaded = load_config("training-config.yaml")
    assert loaded.resolve("data/intents.yaml") == (workspace / "data/intents.yaml").resolve()

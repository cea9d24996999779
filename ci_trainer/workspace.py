"""Path confinement: files named by a config must stay inside the workspace.

A pull request controls the config, so a dataset path like `../../etc/passwd`, an
absolute path, or a committed symlink pointing out of the checkout must not make the
action read (or report on) files outside the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ci_trainer.decision import Decision
from ci_trainer.errors import CiTrainerError


class OutsideWorkspace(CiTrainerError):
    """A path that cannot be used: empty, unreadable as a path, or outside the workspace.

    `str()` says why in words a user can act on; the offending text is included because
    it comes from the user's own config, never from a secret. A user's mistake, so the
    run is invalid (the config loader turns it into a `ConfigIssue` at the field).
    """

    decision = Decision.INVALID


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` is `root` or lies below it (both already resolved)."""
    return path == root or root in path.parents


def default_workspace(config_path: Path, cwd: Path | None = None) -> Path:
    """The workspace a config's paths are confined to.

    The current directory (on GitHub Actions the checkout), unless the config itself lies
    outside it; then the config's own directory, so nothing above it can be reached.
    """
    here = (cwd or Path.cwd()).resolve()
    # The directory holding the config as named (relative paths start there), even when
    # the config file itself is a symlink.
    config_dir = (here / config_path).parent.resolve()
    return here if is_inside(config_dir, here) else config_dir


def resolve_inside(relative: str | Path, *, base: Path, workspace: Path) -> Path:
    """Resolve `relative` against `base`, following symlinks; refuse anything outside.

    Raises `OutsideWorkspace` with a message naming the resolved location.
    """
    text = str(relative)
    if not text.strip():
        msg = "the path is empty"
        raise OutsideWorkspace(msg)
    if "\x00" in text:
        msg = "the path contains a NUL character"
        raise OutsideWorkspace(msg)
    root = workspace.resolve()
    try:
        # resolve() follows every symlink on the way, so a link pointing out is caught.
        resolved = (base / text).resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops: RuntimeError before 3.13
        msg = f"the path cannot be resolved: {exc}"
        raise OutsideWorkspace(msg) from None
    if not is_inside(resolved, root):
        msg = f"'{text}' resolves to {resolved}, outside the workspace {root}"
        raise OutsideWorkspace(msg)
    return resolved


# --- where a run may write, on GitHub Actions ------------------------------------------
#
# Inside Actions the step's paths (the audit log, the working directory, an output folder)
# come from a workflow a pull request can change, like the config's; they are held to the
# same rule: the checkout, or the runner's temp folder. Outside Actions the user's own
# machine is theirs to write to.


def on_actions(env: Mapping[str, str]) -> bool:
    """True in a GitHub Actions job (the runner sets both)."""
    return env.get("GITHUB_ACTIONS") == "true" and bool(env.get("GITHUB_WORKSPACE"))


def writable_roots(env: Mapping[str, str], *, temp: bool = True) -> list[Path]:
    """The folders a run on Actions may write below: the workspace, then RUNNER_TEMP."""
    names = ["GITHUB_WORKSPACE", "RUNNER_TEMP"] if temp else ["GITHUB_WORKSPACE"]
    return [Path(value).resolve() for name in names if (value := env.get(name, "").strip())]


def outside_roots(path: Path, roots: list[Path]) -> str | None:
    """Why `path` (relative to the current directory) may not be used, or None when it
    lies inside one of `roots`; symlinks are followed, like the config's paths."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        return f"'{path}' cannot be resolved: {exc}"
    if any(is_inside(resolved, root) for root in roots):
        return None
    where = " or ".join(str(root) for root in roots)
    return f"'{path}' resolves to {resolved}, outside {where}"


def shown_path(path: str, cwd: Path | None = None) -> str:
    """`path` as a person (and the runner's annotations) want it: relative to the current
    folder when it lies inside it, else as given."""
    try:
        here = (cwd or Path.cwd()).resolve()
        return Path(path).resolve().relative_to(here).as_posix()
    except (OSError, ValueError, RuntimeError):
        return path

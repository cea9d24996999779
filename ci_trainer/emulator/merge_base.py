"""The committed dataset files at the merge base, for the embedded emulator's baseline.

`run --emulator` with no model in production trains one from the data as it was where
this branch left the default branch (`git merge-base HEAD <default>`), so the run has a
champion to compare with. On a fresh clone HEAD is the default branch and the merge base
is HEAD itself. Git runs with a time limit, never prompts, and reads objects only (no
work tree or index, so no hook or fsmonitor runs); any failure means "no baseline", with
the reason.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_trainer.errors import CiTrainerError

GIT_SECONDS = 10.0
MAX_FILE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class MergeBase:
    commit: str
    branch: str
    # path as given -> its text at the commit (paths absent there are left out)
    files: dict[Path, str]

    @property
    def short(self) -> str:
        return self.commit[:12]


class NoMergeBase(CiTrainerError):
    """Why there is no merge base to read (no git, not a repository, no commits...);
    the emulator says it in one line and runs without a baseline."""


def read_at_merge_base(folder: Path, paths: Sequence[Path]) -> MergeBase:
    """The files' committed text at the merge base of HEAD and the default branch of the
    repository holding `folder`; NoMergeBase with the reason when there is none."""
    top = Path(_git(folder, "rev-parse", "--show-toplevel")).resolve()
    branch = _default_branch(folder)
    commit = _git(folder, "merge-base", "HEAD", branch)
    files: dict[Path, str] = {}
    for path in paths:
        try:
            inside = path.resolve().relative_to(top).as_posix()
        except ValueError:
            continue  # outside this repository: not committed data
        text = _blob(folder, f"{commit}:{inside}")
        if text is not None:
            files[path] = text
    return MergeBase(commit=commit, branch=branch, files=files)


def _default_branch(folder: Path) -> str:
    """origin/HEAD's branch, else main, else master (the first that exists)."""
    try:
        return _git(folder, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    except NoMergeBase:
        pass
    for name in ("main", "master", "origin/main", "origin/master"):
        try:
            _git(folder, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
        except NoMergeBase:
            continue
        return name
    msg = "the repository has no origin/HEAD, main or master branch"
    raise NoMergeBase(msg)


def _blob(folder: Path, spec: str) -> str | None:
    try:
        size = int(_git(folder, "cat-file", "-s", spec))
    except (NoMergeBase, ValueError):
        return None  # not in that commit
    if size > MAX_FILE_BYTES:
        return None
    try:
        return _git(folder, "cat-file", "blob", spec, strip=False)
    except NoMergeBase:
        return None


def _git(folder: Path, *args: str, strip: bool = True) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    command = ["git", "-c", "core.fsmonitor=false", "-C", str(folder), *args]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            timeout=GIT_SECONDS,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        msg = "git is not installed"
        raise NoMergeBase(msg) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"git did not answer ({type(exc).__name__})"
        raise NoMergeBase(msg) from None
    if done.returncode != 0:
        first = done.stderr.decode("utf-8", "replace").strip().splitlines()
        msg = first[0][:200] if first else f"git {args[0]} failed"
        raise NoMergeBase(msg)
    text = done.stdout.decode("utf-8", "replace")
    return text.strip() if strip else text

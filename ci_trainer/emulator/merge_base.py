"""The committed dataset files at the merge base, for the embedded emulator's baseline.

`run --emulator` with no model in production trains one from the data as it was where
this branch left the default branch (`git merge-base HEAD <default>`), so the run has a
champion to compare with. On a fresh clone HEAD is the default branch and the merge base
is HEAD itself. The git plumbing (time limit, no prompts, objects only, never a fetch)
is `ci_trainer.git_history`'s; any failure means "no baseline", with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_trainer.git_history import NoHistory, Repository

# The emulator's name for the shared error: callers catch "no merge base".
NoMergeBase = NoHistory


@dataclass(frozen=True)
class MergeBase:
    commit: str
    branch: str
    # path as given -> its text at the commit (paths absent there are left out)
    files: dict[Path, str]

    @property
    def short(self) -> str:
        return self.commit[:12]


def read_at_merge_base(folder: Path, paths: Sequence[Path]) -> MergeBase:
    """The files' committed text at the merge base of HEAD and the default branch of the
    repository holding `folder`; NoMergeBase with the reason when there is none."""
    repository = Repository.holding(folder)
    branch = _default_branch(repository)
    commit = repository.merge_base("HEAD", branch)
    files: dict[Path, str] = {}
    for path in paths:
        inside = repository.inside(path)
        if inside is None:
            continue  # outside this repository: not committed data
        try:
            data = repository.blob(commit, inside)
        except NoHistory:
            continue  # too large, or not in this clone: no baseline from this file
        if data is not None:
            files[path] = data.decode("utf-8", "replace")
    return MergeBase(commit=commit, branch=branch, files=files)


def _default_branch(repository: Repository) -> str:
    """origin/HEAD's branch, else main, else master (the first that exists)."""
    try:
        return repository.git("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    except NoHistory:
        pass
    for name in ("main", "master", "origin/main", "origin/master"):
        try:
            repository.commit(name)
        except NoHistory:
            continue
        return name
    msg = "the repository has no origin/HEAD, main or master branch"
    raise NoHistory(msg)

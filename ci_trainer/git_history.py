"""Reading committed files through git: the plumbing the data diff and the emulator share.

Git runs with a time limit, never prompts, and reads objects only (no work tree or
index, so no hook or fsmonitor runs). It never fetches: a partial (blobless) clone's
missing object is an error here, not a download (GIT_NO_LAZY_FETCH for git 2.44 and
later; `protocol.allow=never` makes the lazy fetch of older versions fail at once). The
workspace a runner mounts into a container belongs to another uid than the container's
root, which git refuses as "dubious ownership": the repository's own top folder is
declared safe on the command line (git honours `-c safe.directory` since 2.39's
protected configuration), so no global config of the user's is written.

Every failure is a `NoHistory` whose message says why in one line.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ci_trainer.errors import CiTrainerError

GIT_SECONDS = 10.0
MAX_FILE_BYTES = 32 * 1024 * 1024
_MESSAGE_CHARS = 200


class NoHistory(CiTrainerError):
    """Why a committed file cannot be read (no git, not a repository, a shallow clone,
    a missing object...); callers say it in one line and go on without it."""


@dataclass(frozen=True)
class Repository:
    """The git repository holding a folder: its top folder, and plumbing run inside it."""

    top: Path

    @classmethod
    def holding(cls, folder: Path) -> Repository:
        """The repository whose work tree holds `folder`; NoHistory when there is none."""
        top = find_top(folder.resolve())
        if top is None:
            msg = f"{folder} is not in a git repository"
            raise NoHistory(msg)
        repository = cls(top)
        repository.git("rev-parse", "--git-dir")  # git itself present and willing
        return repository

    def git(self, *args: str, strip: bool = True) -> str:
        """One git command's standard output; NoHistory with git's first line on failure."""
        return run_git(self.top, *args, strip=strip)

    def commit(self, rev: str) -> str:
        """The commit a revision names; NoHistory when it names none here."""
        if rev.startswith("-"):
            msg = f"{rev!r} is not a revision"
            raise NoHistory(msg)
        return self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")

    def merge_base(self, one: str, other: str) -> str:
        return self.git("merge-base", one, other)

    def is_shallow(self) -> bool:
        try:
            return self.git("rev-parse", "--is-shallow-repository") == "true"
        except NoHistory:
            return False

    def inside(self, path: Path) -> str | None:
        """`path` relative to the top folder (POSIX), or None when it is outside it."""
        try:
            return path.resolve().relative_to(self.top).as_posix()
        except ValueError:
            return None

    def blob(self, commit: str, inside: str, *, max_bytes: int = MAX_FILE_BYTES) -> bytes | None:
        """The bytes of a file at a commit; None when the commit has no such file.

        NoHistory when the file is there but cannot be read: its object is missing (a
        partial clone) or it is larger than `max_bytes`.
        """
        listing = self.git("ls-tree", "-z", "--full-tree", commit, "--", inside, strip=False)
        entry = next((item for item in listing.split("\0") if item), None)
        if entry is None:
            return None
        meta, _, _name = entry.partition("\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != "blob":
            return None  # a folder or a submodule, not a file
        oid = parts[2]
        try:
            size = int(self.git("cat-file", "-s", oid))
        except (NoHistory, ValueError):
            msg = (
                f"{inside} at {commit[:12]} is not in this clone (a partial clone leaves "
                "it on the server, and ci-trainer never fetches)"
            )
            raise NoHistory(msg) from None
        if size > max_bytes:
            msg = f"{inside} at {commit[:12]} is {size} bytes, over the {max_bytes} byte limit"
            raise NoHistory(msg)
        return git_bytes(self.top, "cat-file", "blob", oid)


def find_top(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` holding `.git` (a folder, or the file of
    a linked work tree or submodule), below GIT_CEILING_DIRECTORIES as git has it."""
    ceilings = {
        Path(entry).resolve()
        for entry in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep)
        if entry
    }
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
        if candidate.parent in ceilings:
            return None  # git does not go up into a ceiling
    return None


def run_git(top: Path, *args: str, strip: bool = True) -> str:
    """One git command's standard output as text (invalid UTF-8 replaced)."""
    text = git_bytes(top, *args).decode("utf-8", "replace")
    return text.strip() if strip else text


def git_bytes(top: Path, *args: str) -> bytes:
    """One git command's standard output as git wrote it."""
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_LITERAL_PATHSPECS": "1",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
    }
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        env.pop(name, None)  # the repository is the one holding the folder, nothing else
    command = [
        "git",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "protocol.allow=never",
        "-c",
        f"safe.directory={top}",
        "-C",
        str(top),
        *args,
    ]
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
        raise NoHistory(msg) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"git did not answer ({type(exc).__name__})"
        raise NoHistory(msg) from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        first = next((line for line in lines if line.strip()), f"git {args[0]} failed")
        raise NoHistory(first[:_MESSAGE_CHARS])
    return done.stdout

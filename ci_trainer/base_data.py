"""The committed datasets and holdout at the merge base with the base ref, through git.

The base is asked for with `--base REF` (any CI) or comes from a pull request's
GITHUB_BASE_REF (`origin/<ref>` first, as actions/checkout fetches it, then `<ref>`).
The files the config names are read at the merge base of HEAD and that ref and parsed by
the same readers as the working tree's (the format is chosen by the file's name and
content, as there). When that cannot be done, `BaseUnavailable` says why in one line and
how to get the base, which the run reports instead of a diff; it never changes the
decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ci_trainer.config import LoadedConfig
from ci_trainer.datasets import MAX_DATASET_BYTES, Dataset, parse_dataset
from ci_trainer.errors import CiTrainerError, DatasetError
from ci_trainer.git_history import NoHistory, Repository

FROM_OPTION = "--base"
FROM_PULL_REQUEST = "GITHUB_BASE_REF"
_FETCH_ALL = "set fetch-depth: 0 on actions/checkout"


@dataclass(frozen=True)
class BaseRequest:
    """The base a run compares its data with: the ref as asked for, who asked, and the
    refs to try for it, in order."""

    ref: str
    requested_by: str
    candidates: tuple[str, ...]


def base_request(option: str | None, env: Mapping[str, str]) -> BaseRequest | None:
    """`--base REF` when given, else a pull request's base branch, else None."""
    given = (option or "").strip()
    if given:
        return BaseRequest(given, FROM_OPTION, (given,))
    pull = env.get("GITHUB_BASE_REF", "").strip()
    if pull:
        return BaseRequest(pull, FROM_PULL_REQUEST, (f"origin/{pull}", pull))
    return None


class BaseUnavailable(CiTrainerError):
    """Why the base's data cannot be read (`message`) and how to get it (`hint`)."""


@dataclass(frozen=True)
class BaseFiles:
    """The config's files at the merge base: dataset id -> its dataset there (None: the
    file did not exist yet), and the holdout likewise."""

    resolved_ref: str
    commit: str
    datasets: dict[str, Dataset | None] = field(default_factory=dict)
    holdout: Dataset | None = None


def read_base(loaded: LoadedConfig, request: BaseRequest) -> BaseFiles:
    """The committed datasets and holdout at the merge base of HEAD and the base."""
    repository = _repository(loaded)
    resolved = _resolve(repository, request)
    commit = _merge_base(repository, resolved)
    datasets = {
        ref.id: _dataset(repository, commit, loaded, ref.path)
        for ref in loaded.config.datasets
        if ref.path
    }
    holdout = loaded.config.holdout
    return BaseFiles(
        resolved_ref=resolved,
        commit=commit,
        datasets=datasets,
        holdout=_dataset(repository, commit, loaded, holdout.path) if holdout else None,
    )


def _repository(loaded: LoadedConfig) -> Repository:
    try:
        repository = Repository.holding(loaded.path.parent)
        repository.commit("HEAD")
    except NoHistory as exc:
        if exc.message == "git is not installed":
            raise BaseUnavailable(exc.message, hint="install git where ci-trainer runs") from None
        msg = f"no git history here ({exc.message})"
        raise BaseUnavailable(
            msg,
            hint="run ci-trainer in a git checkout of the repository (actions/checkout)",
        ) from None
    return repository


def _resolve(repository: Repository, request: BaseRequest) -> str:
    for candidate in request.candidates:
        try:
            repository.commit(candidate)
        except NoHistory:
            continue
        return candidate
    first, *others = request.candidates
    missing = f"neither {first} nor {' nor '.join(others)} is" if others else f"{first} is not"
    msg = f"{missing} in this clone (the base, from {request.requested_by} {request.ref})"
    raise BaseUnavailable(
        msg, hint=f"{_FETCH_ALL}, or run git fetch origin {request.ref} before ci-trainer"
    )


def _merge_base(repository: Repository, resolved: str) -> str:
    try:
        return repository.merge_base("HEAD", resolved)
    except NoHistory as exc:
        if repository.is_shallow():
            msg = (
                f"this is a shallow clone: the history back to where HEAD left {resolved} "
                "is not here"
            )
            raise BaseUnavailable(
                msg, hint=f"{_FETCH_ALL}, or run git fetch --unshallow origin before ci-trainer"
            ) from None
        msg = f"HEAD and {resolved} share no history ({exc.message})"
        raise BaseUnavailable(msg, hint="pass --base a ref this branch was made from") from None


def _dataset(
    repository: Repository, commit: str, loaded: LoadedConfig, path: str
) -> Dataset | None:
    inside = repository.inside(loaded.resolve(path))
    if inside is None:
        msg = f"{path} is outside the git repository, so it has no committed base"
        raise BaseUnavailable(msg)
    try:
        raw = repository.blob(commit, inside, max_bytes=MAX_DATASET_BYTES)
    except NoHistory as exc:
        raise BaseUnavailable(
            exc.message, hint="clone without --filter (fetch the base's objects)"
        ) from None
    if raw is None:
        return None  # new since the base
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        msg = f"{path} at {commit[:12]} is not UTF-8, so it cannot be compared"
        raise BaseUnavailable(msg) from None
    try:
        return parse_dataset(text, path, sha256=hashlib.sha256(raw).hexdigest())
    except DatasetError as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else "unreadable"
        msg = f"{path} at {commit[:12]} cannot be read as a dataset ({first})"
        raise BaseUnavailable(msg) from None

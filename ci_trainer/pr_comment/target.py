"""Which pull request a run comments on, from what the runner gives the step: the event
name, the event's JSON (GITHUB_EVENT_PATH), GITHUB_REPOSITORY and GITHUB_API_URL.

The event file is the runner's, but its content is the pull request's: read within a
size bound, and only the few fields needed are taken, each checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_trainer.errors import CiTrainerError
from ci_trainer.github_api import DEFAULT_API_URL

PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
MAX_EVENT_BYTES = 32 * 1024 * 1024  # a pull request event is far smaller
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")


@dataclass(frozen=True)
class PullRequest:
    api_url: str
    repository: str  # owner/name, the base repository the comment goes to
    number: int
    from_fork: bool  # its head is in another repository: the token is read-only there


class NoPullRequest(CiTrainerError):
    """No comment can be made for this run; `level` says whether that is worth a warning
    (`warning`: comment is on but something is missing) or only a log line (`info`)."""

    def __init__(self, message: str, *, level: str = "warning") -> None:
        super().__init__(message)
        self.message = message
        self.level = level


def pull_request_from_env(env: Mapping[str, str]) -> PullRequest:
    """The run's pull request; NoPullRequest says why there is none."""
    event = env.get("GITHUB_EVENT_NAME", "").strip()
    if event not in PULL_REQUEST_EVENTS:
        shown = event[:60] or "none"
        msg = (
            f"no pull request comment: this run's event is {shown!r}, not pull_request or "
            "pull_request_target"
        )
        raise NoPullRequest(msg, level="info")
    repository = env.get("GITHUB_REPOSITORY", "").strip()
    if not _REPOSITORY.fullmatch(repository):
        msg = "no pull request comment: GITHUB_REPOSITORY is not owner/name"
        raise NoPullRequest(msg)
    payload = _event_payload(env.get("GITHUB_EVENT_PATH", "").strip())
    pull_request = payload.get("pull_request")
    if not isinstance(pull_request, dict):
        pull_request = {}
    number = pull_request.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        msg = (
            "no pull request comment: the event file (GITHUB_EVENT_PATH) has no pull_request.number"
        )
        raise NoPullRequest(msg)
    api_url = env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
    return PullRequest(api_url, repository, number, _head_repository(pull_request) != repository)


def _event_payload(path: str) -> dict[str, Any]:
    where = "the event file (GITHUB_EVENT_PATH)"
    if not path:
        msg = f"no pull request comment: {where} is not set"
        raise NoPullRequest(msg)
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_EVENT_BYTES + 1)
    except OSError as error:
        msg = f"no pull request comment: cannot read {where}: {error.strerror or error}"
        raise NoPullRequest(msg) from None
    if len(data) > MAX_EVENT_BYTES:
        msg = f"no pull request comment: {where} is larger than 32 MiB"
        raise NoPullRequest(msg)
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        msg = f"no pull request comment: {where} is not JSON"
        raise NoPullRequest(msg) from None
    if not isinstance(payload, dict):
        msg = f"no pull request comment: {where} is not a JSON object"
        raise NoPullRequest(msg)
    return payload


def _head_repository(pull_request: dict[str, Any]) -> str | None:
    """owner/name of the pull request's head; None when GitHub gives none (a deleted fork)."""
    head = pull_request.get("head")
    repo = head.get("repo") if isinstance(head, dict) else None
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) else None

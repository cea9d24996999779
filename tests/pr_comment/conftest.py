"""The fake GitHub API and the runner's view of a pull request run."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_github import FakeGitHub

# The runner's view of a step (tests/action/mini_workspace.py), for the entrypoint tests.
_ACTION_TESTS = str(Path(__file__).resolve().parents[1] / "action")
if _ACTION_TESTS not in sys.path:
    sys.path.insert(0, _ACTION_TESTS)

REPOSITORY = "acme/nlu-models"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    try:
        yield fake
    finally:
        fake.close()


def pull_request_env(
    folder: Path,
    api_url: str,
    *,
    number: int = 7,
    head: str | None = REPOSITORY,
    event: str = "pull_request",
) -> dict[str, str]:
    """GITHUB_* as the runner sets them for a pull request run, with its event file."""
    folder.mkdir(parents=True, exist_ok=True)
    event_file = folder / "event.json"
    head_repo = {"full_name": head} if head is not None else None
    payload = {"action": "synchronize", "number": number}
    payload["pull_request"] = {"number": number, "head": {"repo": head_repo}}  # type: ignore[assignment]
    event_file.write_text(json.dumps(payload), encoding="utf-8")
    return {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": api_url,
        "GITHUB_SERVER_URL": "https://github.com",
    }

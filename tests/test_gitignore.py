"""What a run leaves in a clone is ignored by the project's own .gitignore (issue 15
item 8): a newcomer's first `ci-trainer run --emulator` leaves `git status` clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ci_trainer.audit import FALLBACK_FILE_NAME
from ci_trainer.config.model import AuditSection
from ci_trainer.github import DEFAULT_OUTPUT_DIR

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(),
    reason="not a git checkout",
)


def _ignored(path: str) -> bool:
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", path],
        cwd=REPO,
        check=False,
        timeout=30,
    )
    return done.returncode == 0


@pytest.mark.parametrize(
    "path",
    [
        f"{DEFAULT_OUTPUT_DIR}/outputs.json",
        AuditSection().path,  # the sample config's, at the root
        f"examples/cognigy-v2/{AuditSection().path}",  # the v2 sample's, beside it
        FALLBACK_FILE_NAME,
    ],
)
def test_what_a_run_writes_is_ignored(path: str) -> None:
    assert _ignored(path)


def test_the_datasets_are_not_ignored() -> None:
    assert not _ignored("datasets/customer_service.yaml")

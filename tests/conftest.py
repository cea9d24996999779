"""Shared fixtures. Each area's fixtures live in its own conftest under tests/<area>/.

The models of what the runner and a reader do with our output are imported by name from
any test: the runner's command and file-command parsers (tests/github/runner_commands.py,
runner_files.py), the shared RunResult fixtures (tests/report/run_results.py) and the
constructed git repositories (tests/datadiff/git_repos.py).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
for _folder in (
    REPO_ROOT / "tests" / "report",
    REPO_ROOT / "tests" / "github",
    REPO_ROOT / "tests" / "datadiff",  # git_repos: constructed repositories
):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


def pytest_configure(config: pytest.Config) -> None:
    """Give the suite the SIGINT disposition its signal tests rely on, however it was
    started. A parent that ignores SIGINT (`nohup`, `trap '' INT`, a job started with `&`
    in a script) passes the ignore on, and Python then installs no KeyboardInterrupt
    handler; the ignore also survives exec into every CLI a test starts, which would then
    never see the Ctrl-C the test sends. A handler, unlike an ignore, is reset to the
    default by exec, so children start as from a terminal."""
    del config
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT

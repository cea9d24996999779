"""Shared fixtures. Each area's fixtures live in its own conftest under tests/<area>/."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


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

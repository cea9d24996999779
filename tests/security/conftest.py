"""Puts the runner's command parser (tests/github/runner_commands.py) on the import path."""

import sys
from pathlib import Path

GITHUB_TESTS = Path(__file__).resolve().parent.parent / "github"
if str(GITHUB_TESTS) not in sys.path:
    sys.path.insert(0, str(GITHUB_TESTS))

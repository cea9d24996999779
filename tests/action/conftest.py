"""Puts the shared RunResult fixtures (tests/report/run_results.py) and the runner's
file-command parser (tests/github/runner_files.py) on the import path."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for folder in (TESTS / "report", TESTS / "github"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

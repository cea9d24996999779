"""`.ci/run` runs every stage and reports all failures at the end (issue 15 item 5):
a failing test run must not hide what the linters would say."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _stages(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f". .ci/stages.sh\n{script}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_every_stage_runs_and_the_failures_are_listed_at_the_end() -> None:
    done = _stages('stage "pytest" false\nstage "ruff" true\nstage "mypy" false\nfinish')
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[:5] == ["== pytest", "== pytest FAILED", "== ruff", "== mypy", "== mypy FAILED"]
    assert lines[5:] == ["== ci FAILED: 2 stage(s):", "   - pytest", "   - mypy"]


def test_a_clean_run_ends_ok() -> None:
    done = _stages('stage "pytest" true\nstage "ruff" true\nfinish')
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "== ci ok"


def test_the_ci_script_uses_the_stages_for_every_check() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -e" not in script.replace("set -Euo", "")  # no early exit on a failed check
    checks = ("python -m pytest -q", "ruff check .", "ruff format --check .", "mypy")
    for command in (*checks, "bash .ci/lint-actions", "bash .ci/lint-examples"):
        assert f" {command}" in script.split("stage ", 1)[1], command
    assert script.rstrip().endswith("finish")

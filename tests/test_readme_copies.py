"""README.md: the two set-up commands, and the sections copied from docs/."""

from __future__ import annotations

import re
from pathlib import Path

from tests.readme_sections import README, SECTIONS, refreshed

ROOT = Path(__file__).resolve().parent.parent


def test_copied_sections_match_their_source() -> None:
    readme = README.read_text(encoding="utf-8")
    for name in SECTIONS:
        assert f"<!-- {name}:start" in readme, f"README.md lost the {name} markers"
    assert readme == refreshed(readme), (
        "README.md's copy of docs/contract.md or docs/configuration.md is stale; "
        "run: python tests/readme_sections.py"
    )


def test_first_lines_are_the_two_setup_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ")
    block = re.search(r"```sh\n(.*?)\n```", "\n".join(lines[:12]), re.DOTALL)
    assert block is not None, "README.md must open with a sh block of the set-up commands"
    commands = block.group(1).splitlines()
    assert len(commands) == 2
    run_job, run_tests = commands
    assert "ci-trainer run --config training-config.yaml --emulator" in run_job
    assert run_tests.endswith("python3 -m pytest -q")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[test]'" in ci
    assert "python -m pytest -q\n" in ci

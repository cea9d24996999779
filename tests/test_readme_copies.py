"""README.md: the sections copied from docs/, and CI runs the README's test command.

(The two set-up commands themselves are pinned by tests/action/test_readme.py.)
"""

from __future__ import annotations

from pathlib import Path

from tests.readme_sections import EXAMPLES, README, SECTIONS, refreshed

ROOT = Path(__file__).resolve().parent.parent


def test_copied_sections_match_their_source() -> None:
    readme = README.read_text(encoding="utf-8")
    for name in [*SECTIONS, *EXAMPLES]:
        assert f"<!-- {name}:start" in readme, f"README.md lost the {name} markers"
    assert readme == refreshed(readme), (
        "README.md's copy of docs/contract.md, docs/configuration.md or an example CI "
        "file is stale; "
        "run: python tests/readme_sections.py"
    )


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[test]'" in ci
    assert "python -m pytest -q\n" in ci

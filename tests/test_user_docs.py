"""What a user reads holds no internal jargon, no file they do not have and no path of
the machine the docs were written on (issue 15 item 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
USER_DOCS = sorted(
    [
        REPO / "README.md",
        REPO / "action.yml",
        REPO / "training-config.yaml",
        REPO / "datasets" / "README.md",
        REPO / "ci_trainer" / "schemas" / "training-config.schema.json",
        *(REPO / "docs").glob("*.md"),
        *(path for path in (REPO / "examples").rglob("*") if path.is_file()),
    ]
)
# What each pattern stands for, as the failure names it.
FORBIDDEN = {
    r"DESIGN\.md|DESIGN's": "the design notes, which live outside the repository",
    r"\.\./shared": "a folder beside this machine's checkout",
    r"(?<![\w/.])/work/": "a path of the machine the docs were written on",
    r"the seed's|issue-\d+ table": "the project's internal jargon",
}


@pytest.mark.parametrize("path", USER_DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_user_docs_hold_no_internal_references(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [
        f"line {text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r} ({why})"
        for pattern, why in FORBIDDEN.items()
        for match in re.finditer(pattern, text)
    ]
    assert found == []

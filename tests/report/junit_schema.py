"""tests/report/junit.xsd loaded once, for every test that checks a JUnit report (tests/report
is on sys.path, see tests/conftest.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))


def valid_report(path: Path) -> ET.Element:
    """The report at `path`, parsed, after checking it against the schema."""
    text = path.read_text(encoding="utf-8")
    SCHEMA.validate(text)
    return ET.fromstring(text)


def outcomes(root: ET.Element) -> dict[tuple[str, str], str]:
    """(suite part, case name) -> passed, skipped, error or failure."""
    found = {}
    for case in root.iter("testcase"):
        part = case.get("classname", "").rsplit(".", 1)[-1]
        ended = [tag for tag in ("skipped", "error", "failure") if case.find(tag) is not None]
        found[(part, case.get("name", ""))] = ended[0] if ended else "passed"
    return found

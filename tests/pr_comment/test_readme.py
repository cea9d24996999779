"""The README's pull request comment snippet is a workflow that grants what the comment
needs and passes only inputs the action has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def snippet() -> dict[Any, Any]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Pull request comment\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("\n```", 1)[0]
    document = yaml.safe_load(block)
    assert isinstance(document, dict)
    return document


def test_the_snippet_grants_pull_requests_write_and_passes_the_token() -> None:
    workflow = snippet()
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "pull_request" in workflow[True]  # YAML 1.1 reads `on` as True
    steps = workflow["jobs"]["train"]["steps"]
    [step] = [s for s in steps if s.get("uses", "").startswith("your-org/ci-trainer")]
    # The comment's data diff line needs the merge base in the clone.
    [checkout] = [s for s in steps if s.get("uses", "").startswith("actions/checkout")]
    assert checkout["with"] == {"fetch-depth": 0}
    assert step["with"]["comment"] is True
    assert step["with"]["github-token"] == "${{ github.token }}"
    inputs = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))["inputs"]
    assert set(step["with"]) <= set(inputs)

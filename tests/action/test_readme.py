"""The README is the user guide: it must agree with action.yml and the example workflows."""

from __future__ import annotations

from pathlib import Path

import yaml
from example_summary import EXAMPLE, demoted
from readme_tables import current_block, tables

REPO = Path(__file__).resolve().parents[2]


def readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_the_two_setup_commands_come_first() -> None:
    lines = readme().splitlines()
    assert lines[0] == "# ci-trainer"
    assert lines[2:6] == [
        "```sh",
        "python3 -m pip install '.[emulator]' && ci-trainer run --config training-config.yaml --emulator",
        "python3 -m pip install -e '.[test]' && python3 -m pytest -q",
        "```",
    ]


def test_reference_tables_match_action_yml() -> None:
    """Regenerate with `python3 tests/action/readme_tables.py` after editing action.yml."""
    assert current_block(readme()) == tables()


def test_every_input_and_output_is_documented() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    text = readme()
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"| `{name}` |" in text, name


WORKFLOWS = (
    "cognigy-v2/nlu-pull-request.yml",
    "cognigy-v2/nlu-main.yml",
    "nlu-pull-request.yml",
    "nlu-main.yml",
)


def test_example_workflows_are_in_the_readme_verbatim() -> None:
    text = readme()
    for name in WORKFLOWS:
        example = (REPO / "examples" / name).read_text(encoding="utf-8").rstrip()
        assert f"```yaml\n{example}\n```" in text, name


def test_the_readme_leads_with_cognigy_v2() -> None:
    """A Cognigy team reads the v2 path first: the backend table, then the v2
    workflows, and only then the tutorial's v1 contract."""
    text = readme()
    positions = [
        text.index("## Which backend"),
        *(
            text.index((REPO / "examples" / name).read_text(encoding="utf-8")[:200])
            for name in WORKFLOWS[:2]
        ),
        text.index("## Use it with a service of the v1 contract"),
    ]
    assert positions == sorted(positions)
    first_workflow = text.split("```yaml\n", 1)[1]
    assert "api-key:" in first_workflow.split("```", 1)[0]
    table = text.split("## Which backend", 1)[1].split("\n## ", 1)[0]
    assert "| A **Cognigy.AI** tenant" in table and "`cognigy-v2`" in table
    assert "`cognigy-v1`" in table and "emulator" in table


def test_troubleshooting_covers_what_the_issue_lists() -> None:
    section = readme().split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    for symptom in ("401", "403", "400", "429", "5xx", "Timeouts", "Fork pull requests"):
        assert symptom in section, symptom


def test_readme_embeds_the_example_summary() -> None:
    summary = EXAMPLE.read_text(encoding="utf-8")
    assert demoted(summary) in readme()
    assert summary.startswith("## ✅ Approved")
    assert "xychart-beta" in summary and "### Champion / challenger" in summary

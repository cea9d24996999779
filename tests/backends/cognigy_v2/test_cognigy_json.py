"""The `cognigy-json` dataset format: Cognigy's intent JSON export."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_trainer.datasets import load_dataset, parse_dataset
from ci_trainer.errors import DatasetError

EXPORT = """[
  {"name": "CheckBalance", "exampleSentences": ["how much money do I have", " balance please "],
   "rules": [], "tags": ["banking"], "isRejectIntent": false, "isDisabled": false},
  {"name": "Old", "exampleSentences": ["not trained"], "isDisabled": true},
  {"name": "Reject", "exampleSentences": ["tell me a joke"], "isRejectIntent": true}
]
"""


def test_reads_names_and_sentences_and_leaves_disabled_intents_out() -> None:
    dataset = parse_dataset(EXPORT, "intents.json")
    assert dataset.format == "cognigy-json"
    assert [(e.intent, e.text, e.line) for e in dataset.examples] == [
        ("CheckBalance", "how much money do I have", 2),
        ("CheckBalance", "balance please", 2),
        ("Reject", "tell me a joke", 5),
    ]


def test_detected_by_content_without_a_json_name() -> None:
    assert parse_dataset(EXPORT, "intents.export").format == "cognigy-json"


def test_the_sample_export_loads(repo_root: Path) -> None:
    dataset = load_dataset(repo_root / "examples/cognigy-v2/intents/shop.json")
    assert len(dataset.intent_distribution) == 13
    assert min(dataset.intent_distribution.values()) >= 10


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{"name": "x"}', 1, "expected a JSON array"),
        ('[\n  {"name": "x", "exampleSentences": ["a"]},\n  {"name": }\n]', 3, "not valid JSON"),
        ('[\n  {"exampleSentences": ["a"]}\n]', 2, "non-empty 'name'"),
        ('[\n  "just text"\n]', 2, "expected an intent object"),
        ('[\n\n  {"name": "x", "exampleSentences": "a"}\n]', 3, "must be a list of strings"),
        ('[{"name": "x", "exampleSentences": ["a"]} {"name": "y"}]', 1, "expected ',' or ']'"),
        ('[{"name": "x", "exampleSentences": ["a"]}] trailing', 1, "text after the array"),
        ("[]", None, "holds no examples"),
    ],
)
def test_problems_name_file_and_line(text: str, line: int | None, message: str) -> None:
    with pytest.raises(DatasetError) as caught:
        parse_dataset(text, "intents.json")
    issue = caught.value.issues[0]
    assert issue.file == "intents.json"
    assert issue.line == line
    assert message in issue.message

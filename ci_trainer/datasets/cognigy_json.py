"""Cognigy's intent JSON export: a top-level array of intents, read item by item."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ci_trainer.datasets.model import Example
from ci_trainer.errors import DatasetError, DatasetIssue


def parse_cognigy_json(text: str, name: str) -> list[Example]:
    issues: list[DatasetIssue] = []
    examples: list[Example] = []
    for line, intent in _json_array_items(text, name):
        if not isinstance(intent, dict):
            issues.append(
                DatasetIssue(name, line, "expected an intent object {name, exampleSentences}")
            )
            continue
        label = intent.get("name")
        sentences = intent.get("exampleSentences", [])
        if not isinstance(label, str) or not label.strip():
            issues.append(DatasetIssue(name, line, "an intent needs a non-empty 'name'"))
            continue
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            issues.append(
                DatasetIssue(
                    name, line, f"intent '{label}': 'exampleSentences' must be a list of strings"
                )
            )
            continue
        if intent.get("isDisabled") is True:
            continue
        examples.extend(
            Example(text=s.strip(), intent=label.strip(), line=line) for s in sentences if s.strip()
        )
    if issues:
        raise DatasetError(issues[:50])
    return examples


def _json_array_items(text: str, name: str) -> Iterator[tuple[int, object]]:
    """Each element of a top-level JSON array with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        raise DatasetError(
            [
                DatasetIssue(
                    name,
                    text.count("\n", 0, pos) + 1,
                    "expected a JSON array of intents",
                    "use Cognigy's intent JSON export (Export Intents, format JSON)",
                )
            ]
        )
    pos = _skip_space(text, pos + 1)
    while not text.startswith("]", pos):
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                [DatasetIssue(name, exc.lineno, f"not valid JSON: {exc.msg}")]
            ) from None
        yield text.count("\n", 0, pos) + 1, item
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
        elif not text.startswith("]", pos):
            line = text.count("\n", 0, pos) + 1
            raise DatasetError([DatasetIssue(name, line, "not valid JSON: expected ',' or ']'")])
    if text[pos + 1 :].strip():
        line = text.count("\n", 0, pos) + 1
        raise DatasetError([DatasetIssue(name, line, "not valid JSON: text after the array")])


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos

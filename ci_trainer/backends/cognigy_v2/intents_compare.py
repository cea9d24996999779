"""Whether a committed intents file says exactly what a flow x locale's export holds.

Training is skipped only when it provably changes nothing (C12), so the comparison is
strict where it cannot see: a JSON file matches when it names the same intents, with
the same example sentences (as a multiset, order does not train), and every other field
it gives (tags, rules, isDisabled...) has the exported value; a field the export does
not carry is a difference. A CSV file can say more than sentences (confirmation
sentences, default replies, rules) in ways the JSON export may not show, so a CSV with
any row that is not an example sentence never matches.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ci_trainer.datasets import load_dataset
from ci_trainer.errors import DatasetError

SENTENCES = "exampleSentences"


def sentences_of(items: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Intent name -> example sentences, read as the dataset gate reads a committed file
    (disabled intents left out, sentences stripped, empty ones dropped)."""
    found: dict[str, list[str]] = {}
    for item in items:
        if item.get("isDisabled") is True:
            continue
        texts = [s.strip() for s in item.get(SENTENCES, []) if s.strip()]
        found.setdefault(str(item["name"]).strip(), []).extend(texts)
    return found


def file_matches(path: Path, items: Iterable[Mapping[str, Any]]) -> bool:
    """True when importing `path` would leave the exported intents as they are."""
    exported = {str(item["name"]).strip(): item for item in items}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix.lower() == ".json":
        return _json_matches(text, exported)
    return _csv_matches(path, text, exported)


def _json_matches(text: str, exported: Mapping[str, Mapping[str, Any]]) -> bool:
    try:
        committed = json.loads(text)
    except ValueError:
        return False
    if not isinstance(committed, list) or not all(isinstance(i, dict) for i in committed):
        return False
    names = [str(item.get("name", "")).strip() for item in committed]
    if len(set(names)) != len(names) or set(names) != set(exported):
        return False
    return all(
        _same_intent(item, exported[name]) for name, item in zip(names, committed, strict=True)
    )


def _same_intent(committed: Mapping[str, Any], exported: Mapping[str, Any]) -> bool:
    if Counter(_texts(committed)) != Counter(_texts(exported)):
        return False
    return all(
        key in exported and exported[key] == value
        for key, value in committed.items()
        if key not in ("name", SENTENCES)
    )


def _texts(item: Mapping[str, Any]) -> list[str]:
    return [s.strip() for s in item.get(SENTENCES, []) if isinstance(s, str) and s.strip()]


def _csv_matches(path: Path, text: str, exported: Mapping[str, Mapping[str, Any]]) -> bool:
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if "".join(row).strip()]
    except csv.Error:
        return False
    if any(len(row) < 3 or row[1].strip() != "exampleSentence" for row in rows):
        return False
    try:
        dataset = load_dataset(path)
    except DatasetError:
        return False
    committed: dict[str, Counter[str]] = {}
    for example in dataset.examples:
        committed.setdefault(example.intent, Counter())[example.text] += 1
    if set(committed) != set(exported):
        return False
    return all(
        exported[name].get("isDisabled") is not True
        and Counter(_texts(exported[name])) == sentences
        for name, sentences in committed.items()
    )

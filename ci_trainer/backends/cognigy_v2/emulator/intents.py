"""Intents in the v2 emulator: a committed file imported into a flow's locale (modes
overwrite, merge, skip), the sentences a training of that locale learns from, and the
intent list's items (child intents of a hierarchy only with `includeChildren`)."""

from __future__ import annotations

import json
from typing import Any

from ci_trainer.backends.cognigy_v2.emulator.model import Flow, Intent, Locale, new_id
from ci_trainer.datasets import Dataset

IMPORT_MODES = frozenset({"skip", "overwrite", "merge"})


def sentences_by_intent(dataset: Dataset) -> dict[str, list[str]]:
    """Intent name -> its sentences, in file order."""
    by_intent: dict[str, list[str]] = {}
    for example in dataset.examples:
        by_intent.setdefault(example.intent, []).append(example.text)
    return by_intent


def intent_tags(text: str, filename: str) -> dict[str, list[str]]:
    """Intent name -> its `tags`, from a JSON intents file (CSV files carry none): what
    an export gives back besides the sentences."""
    if not filename.lower().endswith(".json"):
        return {}
    try:
        items = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(items, list):
        return {}
    return {
        str(item["name"]).strip(): [str(tag) for tag in item["tags"]]
        for item in items
        if isinstance(item, dict) and "name" in item and isinstance(item.get("tags"), list)
    }


def apply_import(
    flow: Flow,
    locale_ref: str,
    by_intent: dict[str, list[str]],
    mode: str,
    tags: dict[str, list[str]] | None = None,
) -> None:
    """Import `by_intent` into the flow's locale as Cognigy does in `mode` (with the
    file's `tags`, when it has them)."""
    if mode == "overwrite":
        # Intents are per flow, their sentences per locale: an overwrite replaces this
        # locale's data, and an intent left without sentences in any locale goes.
        for name in [n for n in flow.intents if n not in by_intent]:
            flow.intents[name].sentences.pop(locale_ref, None)
            if not any(flow.intents[name].sentences.values()):
                del flow.intents[name]
    for name, sentences in by_intent.items():
        intent = flow.intents.get(name)
        if intent is None:
            flow.intents[name] = Intent(id=new_id(), name=name, sentences={locale_ref: sentences})
        elif mode == "overwrite":
            intent.sentences[locale_ref] = list(sentences)
        elif mode == "merge":
            known = intent.sentences.setdefault(locale_ref, [])
            known.extend(s for s in sentences if s not in known)
        # skip: an existing intent keeps what it has
        if tags and name in tags and (mode != "skip" or intent is None):
            flow.intents[name].tags = list(tags[name])
    flow.group(locale_ref).out_of_date = True


def training_data(flow: Flow, locale_ref: str) -> tuple[list[str], list[str]]:
    """(texts, labels) of the enabled intents in one locale."""
    texts: list[str] = []
    labels: list[str] = []
    for intent in flow.intents.values():
        if intent.is_disabled:
            continue
        for sentence in intent.sentences.get(locale_ref, []):
            texts.append(sentence)
            labels.append(intent.name)
    return texts, labels


def listed_intents(flow: Flow, locale: Locale, include_children: bool) -> list[Intent]:
    """The intents the list shows in the locale (those localized in it). Without
    `includeChildren` only top-level intents: the API leaves that default undocumented
    (C13), and the hierarchy's parent-first view is what a client without it would see."""
    return [
        intent
        for intent in flow.intents.values()
        if intent.sentences.get(locale.reference_id) and (include_children or intent.parent is None)
    ]


def intent_item(flow: Flow, intent: Intent, locale: Locale) -> dict[str, Any]:
    """An intent as the list answers it (without its feedbackReport)."""
    parent = flow.intents.get(intent.parent) if intent.parent else None
    return {
        "_id": intent.id,
        "referenceId": intent.reference_id,
        "name": intent.name,
        "description": "",
        "tags": list(intent.tags),
        "isRejectIntent": intent.is_reject,
        "isDisabled": intent.is_disabled,
        "localeReference": locale.id,
        "parentIntentId": parent.id if parent else None,
    }

"""Intents in the v2 emulator: a committed file imported into a flow's locale (modes
overwrite, merge, skip), and the sentences a training of that locale learns from."""

from __future__ import annotations

from ci_trainer.backends.cognigy_v2.emulator.model import Flow, Intent, new_id
from ci_trainer.datasets import Dataset

IMPORT_MODES = frozenset({"skip", "overwrite", "merge"})


def sentences_by_intent(dataset: Dataset) -> dict[str, list[str]]:
    """Intent name -> its sentences, in file order."""
    by_intent: dict[str, list[str]] = {}
    for example in dataset.examples:
        by_intent.setdefault(example.intent, []).append(example.text)
    return by_intent


def apply_import(flow: Flow, locale_ref: str, by_intent: dict[str, list[str]], mode: str) -> None:
    """Import `by_intent` into the flow's locale as Cognigy does in `mode`."""
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

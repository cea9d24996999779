"""Where each utterance of the training data is: the index that the conflict, duplicate
and leakage checks share.

Built once in one pass over every example; each question after that is a dict lookup,
so the checks stay linear in the number of examples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ci_trainer.datasets.model import Dataset, Example, normalise_text


@dataclass(frozen=True)
class Place:
    """One example and the file it was read from."""

    example: Example
    path: str

    def where(self, path: str | None = None) -> str:
        """`path:line` (the file as given, or `path` when the caller shows it otherwise)."""
        shown = self.path if path is None else path
        line = self.example.line
        return f"{shown}:{line}" if line is not None else shown


@dataclass(frozen=True)
class Repeat:
    """An example whose text its intent already has, and the first one with that text."""

    place: Place
    first: Place


@dataclass
class UtteranceIndex:
    """Normalised utterance -> its first example; the utterances under more than one
    intent (intent -> its first example there); and the exact repeats within an intent."""

    first_seen: dict[str, Place] = field(default_factory=dict)
    conflicts: dict[str, dict[str, Place]] = field(default_factory=dict)
    repeats: list[Repeat] = field(default_factory=list)

    @classmethod
    def build(cls, local: Iterable[Dataset]) -> UtteranceIndex:
        index = cls()
        exact: dict[tuple[str, str], Place] = {}
        for dataset in local:
            for example in dataset.examples:
                index._add(Place(example, dataset.path), exact)
        return index

    def _add(self, place: Place, exact: dict[tuple[str, str], Place]) -> None:
        example = place.example
        key = normalise_text(example.text)
        seen = self.first_seen.setdefault(key, place)
        if seen.example.intent != example.intent:
            places = self.conflicts.setdefault(key, {seen.example.intent: seen})
            places.setdefault(example.intent, place)
        # A repeat is the same text (only runs of spaces ignored) under the same intent:
        # "Hello" and "Hello?" are two examples on purpose, the same line twice is not.
        same = (example.intent, exact_text(example.text))
        first = exact.setdefault(same, place)
        if first is not place:
            self.repeats.append(Repeat(place, first))


def exact_text(text: str) -> str:
    """The text a repeat is matched on: as written, with runs of whitespace as one space."""
    return " ".join(text.split())

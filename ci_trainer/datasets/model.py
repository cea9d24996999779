"""A dataset as read: its examples, where they came from, and the counts checks need."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    score: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class Dataset:
    path: str
    format: str
    sha256: str
    examples: tuple[Example, ...]
    _distribution: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def intent_distribution(self) -> dict[str, int]:
        if not self._distribution:
            self._distribution.update(Counter(example.intent for example in self.examples))
        return self._distribution

    @property
    def intents(self) -> list[str]:
        return sorted(self.intent_distribution)

    @property
    def average_annotation_score(self) -> float | None:
        scores = [e.score for e in self.examples if e.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def labels(self) -> list[str]:
        return [e.intent for e in self.examples]


def normalise_text(text: str) -> str:
    """The key under which two utterances count as the same (conflicts, leakage)."""
    return " ".join(text.casefold().split()).strip(" .!?,;:")

"""What changed in one committed file of intent data between the base and the working
tree, per intent: examples added, removed and moved between intents; intents added,
removed and renamed. Pure: two parsed datasets in, one `FileDiff` out.

Texts are compared as the label-conflict and holdout-leakage checks compare them
(`datasets.normalise_text`: case-folded, whitespace collapsed, end punctuation trimmed),
so "Where is my order?" re-typed as "where is my order" is no change, and a text the
checks would call "the same utterance" under another intent is a move. Examples are
multisets per intent: the same text written twice more is two examples added.

A rename is an intent gone since the base and a new intent that holds more than half of
the gone one's base examples (`RENAME_SHARE`). More than half, because then no other new
intent can hold as many, so the match is never a toss-up, and a rename that also rewords
or drops up to half of the examples still reads as a rename. A gone intent split evenly
in two is no rename: its examples are moves. Each new intent is the rename of one gone
intent at most (the one it shares most with).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ci_trainer.data_diff_types import ExampleMove, FileDiff, IntentDiff
from ci_trainer.datasets import Dataset, normalise_text

RENAME_SHARE = 0.5
MAX_INTENTS = 200  # intents listed per file, the most changed first; counts stay whole
MAX_TEXTS = 5  # example texts listed per intent and kind
MAX_TEXT_CHARS = 200


@dataclass
class _Side:
    """One side's examples: intent -> normalised text -> how many, and the text as first
    written for each normalised one (for display)."""

    intents: dict[str, Counter[str]] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, dataset: Dataset | None) -> _Side:
        side = cls()
        for example in dataset.examples if dataset is not None else ():
            key = normalise_text(example.text)
            side.intents.setdefault(example.intent, Counter())[key] += 1
            side.shown.setdefault(key, example.text)
        return side


@dataclass
class _Pair:
    """An intent at the base (`old`) and in the working tree (`new`); either may be None."""

    old: str | None
    new: str | None
    gained: Counter[str]
    lost: Counter[str]
    moved_in: list[tuple[str, str, int]] = field(default_factory=list)  # key, from, count
    moved_out: int = 0


def compare_files(
    dataset_id: str | None, path: str, base: Dataset | None, head: Dataset
) -> FileDiff:
    """The diff of one file: `base` is its committed content at the base (None: the file
    is new since then), `head` the working tree's."""
    old, new = _Side.of(base), _Side.of(head)
    pairs = _pairs(old, new)
    _find_moves(pairs)
    shown = {**old.shown, **new.shown}
    diffs = [d for pair in pairs if (d := _intent_diff(pair, old, new, shown)) is not None]
    diffs.sort(key=lambda d: (-d.changed_examples, d.intent))
    return FileDiff(
        dataset_id=dataset_id,
        path=path,
        at_base=base is not None,
        base_sha256=base.sha256 if base is not None else None,
        head_sha256=head.sha256,
        base_examples=len(base.examples) if base is not None else 0,
        head_examples=len(head.examples),
        intents_added_count=sum(d.change == "added" for d in diffs),
        intents_removed_count=sum(d.change == "removed" for d in diffs),
        intents_renamed_count=sum(d.change == "renamed" for d in diffs),
        intents_changed_count=sum(d.change == "changed" for d in diffs),
        examples_added_count=sum(d.added_count for d in diffs),
        examples_removed_count=sum(d.removed_count for d in diffs),
        examples_moved_count=sum(d.moved_in_count for d in diffs),
        intents=diffs[:MAX_INTENTS],
    )


def renames(old: dict[str, Counter[str]], new: dict[str, Counter[str]]) -> dict[str, str]:
    """New intent name -> the gone intent it renames (see the module's docstring)."""
    gone = sorted(set(old) - set(new))
    fresh = set(new) - set(old)
    holders: dict[str, list[str]] = {}
    for name in sorted(fresh):
        for key in new[name]:
            holders.setdefault(key, []).append(name)
    candidates: list[tuple[int, str, str]] = []
    for name in gone:
        shared: Counter[str] = Counter()
        for key, count in old[name].items():
            for holder in holders.get(key, ()):
                shared[holder] += min(count, new[holder][key])
        if not shared:
            continue
        best, overlap = min(shared.items(), key=lambda item: (-item[1], item[0]))
        if overlap > RENAME_SHARE * sum(old[name].values()):
            candidates.append((overlap, name, best))
    found: dict[str, str] = {}
    for _, name, best in sorted(candidates, key=lambda c: (-c[0], c[1])):
        found.setdefault(best, name)
    return found


def _pairs(old: _Side, new: _Side) -> list[_Pair]:
    renamed = renames(old.intents, new.intents)
    renamed_from = set(renamed.values())
    pairs: list[_Pair] = []
    for name in sorted(set(old.intents) | set(new.intents)):
        if name in new.intents:
            before = name if name in old.intents else renamed.get(name)
            pairs.append(_pair(before, name, old, new))
        elif name not in renamed_from:
            pairs.append(_pair(name, None, old, new))
    return pairs


def _pair(before: str | None, after: str | None, old: _Side, new: _Side) -> _Pair:
    was = old.intents.get(before, Counter()) if before is not None else Counter()
    now = new.intents.get(after, Counter()) if after is not None else Counter()
    return _Pair(before, after, gained=now - was, lost=was - now)


def _find_moves(pairs: list[_Pair]) -> None:
    """A text one intent gained that another lost moved between them: taken out of both
    the gain and the loss, so `gained` and `lost` end as the plain additions and removals."""
    losers: dict[str, list[_Pair]] = {}
    for pair in pairs:
        for key in pair.lost:
            losers.setdefault(key, []).append(pair)
    for pair in pairs:
        for key in sorted(pair.gained):
            for loser in losers.get(key, ()):
                count = min(pair.gained[key], loser.lost[key])
                if count <= 0 or loser is pair:
                    continue
                pair.gained[key] -= count
                loser.lost[key] -= count
                loser.moved_out += count
                pair.moved_in.append((key, loser.old or "", count))
        pair.gained = +pair.gained  # drop the zeros
    for pair in pairs:
        pair.lost = +pair.lost


def _intent_diff(pair: _Pair, old: _Side, new: _Side, shown: dict[str, str]) -> IntentDiff | None:
    if pair.new is None:
        change = "removed"
    elif pair.old is None:
        change = "added"
    elif pair.old != pair.new:
        change = "renamed"
    elif pair.gained or pair.lost or pair.moved_in or pair.moved_out:
        change = "changed"
    else:
        return None
    intent = pair.new if pair.new is not None else pair.old or ""
    return IntentDiff(
        intent=intent,
        change=change,
        renamed_from=pair.old if change == "renamed" else None,
        base_examples=_total(old.intents.get(pair.old or "", Counter()) if pair.old else None),
        head_examples=_total(new.intents.get(pair.new or "", Counter()) if pair.new else None),
        added_count=_total(pair.gained),
        removed_count=_total(pair.lost),
        moved_in_count=sum(count for _, _, count in pair.moved_in),
        moved_out_count=pair.moved_out,
        added=_texts(pair.gained, shown),
        removed=_texts(pair.lost, shown),
        moved_in=[
            ExampleMove(text=_clip(shown[key]), from_intent=source, to_intent=intent)
            for key, source, _ in pair.moved_in[:MAX_TEXTS]
        ],
    )


def _total(counts: Counter[str] | None) -> int:
    return sum(counts.values()) if counts else 0


def _texts(keys: Iterable[str], shown: dict[str, str]) -> list[str]:
    return [_clip(shown[key]) for key in sorted(keys)[:MAX_TEXTS]]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"

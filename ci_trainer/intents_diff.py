"""What importing a committed dataset would do to the service's copy, sentence by sentence.

The service's copy comes from the backend (`DatasetStats.copies`, v2's intents export);
the committed side is the dataset file as the gate reads it. An intent only in the file
is added, one only on the service is deleted (an overwrite import removes it, C10), one
in both with other sentences is changed. Sentences compare exactly (after the reader's
trimming), as multisets: their order does not train.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from ci_trainer.backend_types import ServiceCopy
from ci_trainer.datasets import Dataset
from ci_trainer.result import SentenceChanges, ServiceExport

MAX_LISTED = 20
"""Intent names and sentences kept per list; the counts stay whole."""
MAX_CHARS = 200  # per listed name or sentence: the service's text is not ours to bound


def sentences_by_intent(dataset: Dataset) -> dict[str, list[str]]:
    """Intent name -> its example sentences, in file order."""
    found: dict[str, list[str]] = {}
    for example in dataset.examples:
        found.setdefault(example.intent, []).append(example.text)
    return found


def compare(dataset_id: str, committed: Dataset, copy: ServiceCopy) -> ServiceExport:
    """The service's copy of a dataset, and what importing the committed file changes."""
    ours = sentences_by_intent(committed)
    theirs = copy.sentences
    added = sorted(set(ours) - set(theirs))
    deleted = sorted(set(theirs) - set(ours))
    changed = [
        edit
        for name in sorted(set(ours) & set(theirs))
        if (edit := _sentence_changes(name, ours[name], theirs[name])) is not None
    ]
    return ServiceExport(
        dataset_id=dataset_id,
        target=copy.target,
        path=copy.artifact,
        sha256=copy.artifact_sha256,
        intent_count=len(theirs),
        example_count=sum(len(texts) for texts in theirs.values()),
        training_out_of_date=copy.training_out_of_date,
        intents_added=_listed(added),
        intents_deleted=_listed(deleted),
        intents_changed=changed[:MAX_LISTED],
        intents_added_count=len(added),
        intents_deleted_count=len(deleted),
        intents_changed_count=len(changed),
    )


def _sentence_changes(
    intent: str, ours: Sequence[str], theirs: Sequence[str]
) -> SentenceChanges | None:
    mine, yours = Counter(ours), Counter(theirs)
    if mine == yours:
        return None
    added = sorted((mine - yours).elements())
    removed = sorted((yours - mine).elements())
    return SentenceChanges(
        intent=_trim(intent),
        added=_listed(added),
        removed=_listed(removed),
        added_count=len(added),
        removed_count=len(removed),
    )


def describe(export: ServiceExport) -> list[str]:
    """One line per intent the import adds, deletes or changes, for the check's details."""
    where = f"{export.target}: "
    lines = [f"{where}adds intent '{name}'" for name in export.intents_added]
    lines += [f"{where}deletes intent '{name}'" for name in export.intents_deleted]
    for edit in export.intents_changed:
        parts = []
        if edit.added_count:
            parts.append(f"+{edit.added_count} sentence{_s(edit.added_count)}")
        if edit.removed_count:
            parts.append(f"-{edit.removed_count} sentence{_s(edit.removed_count)}")
        sample = edit.added[:1] or edit.removed[:1]
        lines.append(
            f"{where}changes intent '{edit.intent}' ({', '.join(parts)}"
            + (f", e.g. '{sample[0]}'" if sample else "")
            + ")"
        )
    return lines


def totals(exports: Sequence[ServiceExport]) -> Mapping[str, int]:
    """Intents added, deleted and changed over several targets."""
    return {
        "added": sum(e.intents_added_count for e in exports),
        "deleted": sum(e.intents_deleted_count for e in exports),
        "changed": sum(e.intents_changed_count for e in exports),
    }


def _listed(texts: Sequence[str]) -> list[str]:
    return [_trim(text) for text in texts[:MAX_LISTED]]


def _trim(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."


def _s(count: int) -> str:
    return "" if count == 1 else "s"

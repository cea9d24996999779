"""The "Data diff against the base" section: per changed intent, what the pull request
changed in its examples, next to what that intent's metric did.

`data_diff_section` takes the diff and the per-intent metric changes, not a RunResult,
so a command that re-renders "what changed" from a predictions file can reuse it; the
summary calls it through `data_diff_summary`. Intent names and example texts are the
repository's words: every one is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ci_trainer.data_diff_types import NORMALISATION, DataDiff, FileDiff, IntentDiff
from ci_trainer.holdout_types import HoldoutChanges
from ci_trainer.report.markdown import escape, table
from ci_trainer.result import RunResult

RECALL = "holdout recall"
MINUS = "\u2212"  # U+2212, the typographic minus before a count of removed examples
MAX_ROWS = 50  # table rows over all files; the rest is counted
DETAILED_INTENTS = 10  # intents whose example texts the collapsed list shows
TEXTS_SHOWN = 3  # per kind (added, removed, moved in)
HOLDOUT_SENTENCE = (
    "A changed holdout changes what the comparison means: candidate and production are "
    "both scored on the new holdout, so they still compare like for like, but not with "
    "the figures of runs before this change, and a holdout edited together with the "
    "training data can favour the candidate. Review its changes on their own."
)


@dataclass(frozen=True)
class MetricChange:
    """One intent's figure before (production) and after (the candidate); None: not
    measured on that side."""

    metric: str
    before: float | None
    after: float | None


def holdout_recall_changes(changes: HoldoutChanges) -> dict[str, MetricChange]:
    """Per holdout intent: its recall, production -> candidate, as derived from the
    outcomes (`holdout_changes`); the run and `ci-trainer explain` both take it from here."""
    return {
        score.intent: MetricChange(RECALL, score.production, score.candidate)
        for score in changes.intent_recall
    }


def intent_metric_changes(result: RunResult) -> dict[str, MetricChange]:
    """Per intent: the holdout recall, production -> candidate, when the run compared
    them (the comparison and its outcomes are recorded together); else the service's F1
    (production's when the service gave it)."""
    if result.holdout_changes is not None and result.holdout_changes.intent_recall:
        return holdout_recall_changes(result.holdout_changes)
    if result.metrics is None:
        return {}
    production = result.production.metrics if result.production else None
    before = {s.intent: s.f1 for s in production.per_intent} if production else {}
    return {
        score.intent: MetricChange("F1", before.get(score.intent), score.f1)
        for score in result.metrics.per_intent
    }


def data_diff_summary(result: RunResult) -> str | None:
    return data_diff_section(result.data_diff, intent_metric_changes(result))


def data_diff_section(diff: DataDiff | None, changes: Mapping[str, MetricChange]) -> str | None:
    """The section, or None when no base was asked for."""
    if diff is None:
        return None
    title = "### Data diff against the base\n\n"
    if diff.unavailable is not None:
        how = f" To get it: {escape(diff.hint)}." if diff.hint else ""
        return (
            f"{title}No data diff against {escape(diff.base_ref)}: {escape(diff.unavailable)}.{how}"
        )
    parts = [title + _intro(diff)]
    files = [f for f in diff.datasets if f.differs]
    if files:
        parts.append(_table(files, changes))
    elif not (diff.holdout and diff.holdout.differs):
        parts.append("The committed datasets and the holdout are the same as at the base.")
    if diff.holdout is not None and diff.holdout.differs:
        parts.append(_holdout_note(diff.holdout))
    details = _details([*files, *([diff.holdout] if diff.holdout else [])])
    if details:
        parts.append(details)
    return "\n\n".join(parts)


def _intro(diff: DataDiff) -> str:
    commit = escape((diff.base_commit or "")[:12])
    lines = [
        f"Against {escape(diff.resolved_ref or diff.base_ref)} at the merge base {commit} "
        f"({escape(diff.requested_by)}); example texts compared {NORMALISATION}."
    ]
    lines += [f"- {_file_line(f)}" for f in diff.datasets]
    return "\n".join(lines)


def _file_line(file: FileDiff) -> str:
    name = escape(file.dataset_id or "holdout") + f" ({escape(file.path)})"
    if not file.differs:
        return f"{name}: unchanged"
    new = ", a new file" if not file.at_base else ""
    return (
        f"{name}{new}: {_intent_counts(file)}; examples {file.base_examples} → "
        f"{file.head_examples}: +{file.examples_added_count} {MINUS}{file.examples_removed_count}, "
        f"{file.examples_moved_count} moved between intents"
    )


def _intent_counts(file: FileDiff) -> str:
    kinds = [
        (file.intents_added_count, "added"),
        (file.intents_removed_count, "removed"),
        (file.intents_renamed_count, "renamed"),
        (file.intents_changed_count, "changed"),
    ]
    shown = [f"{count} intent{'' if count == 1 else 's'} {word}" for count, word in kinds if count]
    return ", ".join(shown) or "intents unchanged"


def _table(files: Sequence[FileDiff], changes: Mapping[str, MetricChange]) -> str:
    several = len(files) > 1
    # No metric column before anything was measured (validation, a failed training).
    metric = next(iter(changes.values())).metric if changes else None
    headers = [*(["Dataset"] if several else []), "Intent", "Examples"]
    if metric is not None:
        headers.append(metric[:1].upper() + metric[1:])
    rows: list[list[str]] = []
    total = sum(f.changed_intents_count for f in files)
    for file in files:
        for intent in file.intents:
            if len(rows) == MAX_ROWS:
                break
            cells = [_intent_cell(intent), _examples_cell(intent)]
            if metric is not None:
                cells.append(_metric_cell(intent, changes))
            rows.append([escape(file.dataset_id or ""), *cells] if several else cells)
    body = table(headers, rows)
    if total > len(rows):
        body += (
            f"\n\n{total - len(rows)} more changed intents are not shown; the audit record "
            "counts them per intent."
        )
    return body


def _intent_cell(intent: IntentDiff) -> str:
    name = escape(intent.intent)
    if intent.change == "renamed":
        return f"{name} (renamed from {escape(intent.renamed_from or '')})"
    if intent.change in ("added", "removed"):
        return f"{name} ({intent.change})"
    return name


def _examples_cell(intent: IntentDiff) -> str:
    text = f"+{intent.added_count} {MINUS}{intent.removed_count}"
    if intent.moved_in_count:
        sources = sorted({move.from_intent for move in intent.moved_in})
        named = ", ".join(escape(s) for s in sources[:3])
        more = ", ..." if len(sources) > 3 or intent.moved_in_count > len(intent.moved_in) else ""
        text += f", {intent.moved_in_count} moved in (from {named}{more})"
    if intent.moved_out_count:
        text += f", {intent.moved_out_count} moved out"
    return f"{text} ({intent.base_examples} → {intent.head_examples})"


def _metric_cell(intent: IntentDiff, changes: Mapping[str, MetricChange]) -> str:
    change = changes.get(intent.intent)
    if change is None:
        return "gone" if intent.change == "removed" else "not measured"
    return f"{_figure(change.before)} → {_figure(change.after)}"


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _holdout_note(holdout: FileDiff) -> str:
    names = ", ".join(escape(i.intent) for i in holdout.intents[:5])
    more = " and others" if holdout.changed_intents_count > 5 else ""
    return (
        f"> [!WARNING]\n> The holdout {escape(holdout.path)} changed since the base: "
        f"{_intent_counts(holdout)} ({names}{more}); examples +{holdout.examples_added_count} "
        f"{MINUS}{holdout.examples_removed_count}, {holdout.examples_moved_count} moved between "
        f"intents.\n> {HOLDOUT_SENTENCE}"
    )


def _details(files: Sequence[FileDiff]) -> str | None:
    items: list[str] = []
    for file in files:
        for intent in file.intents:
            if len(items) == DETAILED_INTENTS:
                break
            lines = _example_lines(intent)
            if lines:
                where = escape(file.dataset_id or "holdout")
                items.append(f"- {where} / {escape(intent.intent)}\n" + "\n".join(lines))
    if not items:
        return None
    return (
        "<details><summary>Example texts that changed (the first few)</summary>\n\n"
        + "\n".join(items)
        + "\n\n</details>"
    )


def _example_lines(intent: IntentDiff) -> list[str]:
    lines = [f"  - added: {escape(text)}" for text in intent.added[:TEXTS_SHOWN]]
    lines += [f"  - removed: {escape(text)}" for text in intent.removed[:TEXTS_SHOWN]]
    lines += [
        f"  - moved from {escape(move.from_intent)}: {escape(move.text)}"
        for move in intent.moved_in[:TEXTS_SHOWN]
    ]
    return lines

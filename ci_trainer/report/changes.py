"""What changed on the holdout, in Markdown: the confusions that changed most, the
utterances that flipped, and a per-intent F1 chart of the intents that moved.

Each part is a function of `HoldoutChanges` alone, so the run's summary and
`ci-trainer explain` (which rebuilds the changes from the predictions file) render the
same text. Utterances and intent names are user data: escaped for Markdown, no `::` left
in them (a workflow command, were the text ever echoed), and bounded in length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ci_trainer.holdout_types import ConfusionChange, HoldoutChanges, HoldoutOutcome, IntentF1
from ci_trainer.redact import neutralise_data
from ci_trainer.report.convergence import MAX_CHART_POINTS
from ci_trainer.report.markdown import escape, fenced, table

MAX_CONFUSIONS = 10
MAX_FLIPS_PER_INTENT = 3
MAX_FLIP_INTENTS = 20
MAX_FLIP_ROWS = 60
MAX_TEXT_CHARS = 120
MAX_NAME_CHARS = 60
MAX_LABEL_CHARS = 30
MOVED = 0.001  # an F1 change smaller than this is not drawn
_NO_INTENT = "no intent"
_LABEL_UNSAFE = re.compile(r"[^\w .\-]")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """User or service text made safe for a table cell: bounded, escaped, and with no
    `::` left (`\\:` renders as a colon)."""
    return escape(_clip(neutralise_data(text), limit)).replace("::", ":\\:")


def _intent(name: str | None) -> str:
    return _NO_INTENT if name is None else cell(name, MAX_NAME_CHARS)


def _prediction(intent: str | None, score: float | None) -> str:
    shown = _intent(intent)
    return shown if score is None else f"{shown} ({score:.2f})"


# --- confusions -----------------------------------------------------------------------


def confusions_section(changes: HoldoutChanges) -> str | None:
    if not changes.confusions:
        return None
    shown = changes.confusions[:MAX_CONFUSIONS]
    rows = [_confusion_row(change) for change in shown]
    headers = ["Expected", "Predicted as", "Production", "Candidate", "Change"]
    note = (
        f"{len(changes.confusions)} (expected, predicted) pairs changed on the holdout's "
        f"{len(changes.outcomes)} utterances"
    )
    if len(shown) < len(changes.confusions):
        note += f"; the {len(shown)} that changed most are shown"
    return "### Confusions that changed\n\n" + table(headers, rows) + f"\n\n<sub>{note}.</sub>"


def _confusion_row(change: ConfusionChange) -> list[str]:
    return [
        cell(change.expected, MAX_NAME_CHARS),
        _intent(change.predicted),
        str(change.production),
        str(change.candidate),
        f"{change.change:+d}",
    ]


# --- flipped utterances ---------------------------------------------------------------


def flips_section(changes: HoldoutChanges) -> str | None:
    if not changes.outcomes:
        return None
    head = (
        f"### Utterances that flipped\n\nOf {len(changes.outcomes)} holdout utterances, "
        f"{changes.regressed} that production got right are wrong now, and "
        f"{changes.fixed} the other way round."
    )
    if not changes.flips:
        return head
    rows, shown = _flip_rows(changes)
    hidden = changes.regressed + changes.fixed - shown
    legend = (
        "Lost: production right, the candidate wrong; gained: the reverse. Predictions "
        "with the service's score."
    )
    if any(group.flagged for group in changes.flips):
        legend = "⚠️: the gate found the intent significantly worse. " + legend
    if hidden:
        legend += f" {hidden} more flipped utterances are in the predictions file."
    headers = ["Intent", "Flip", "Utterance", "Candidate", "Production"]
    return (
        f"{head}\n\n<details>\n<summary>By intent, the regressed intents first (at most "
        f"{MAX_FLIPS_PER_INTENT} each)</summary>\n\n"
        + table(headers, rows)
        + f"\n\n<sub>{legend}</sub>\n\n</details>"
    )


def _flip_rows(changes: HoldoutChanges) -> tuple[list[list[str]], int]:
    rows: list[list[str]] = []
    for group in changes.flips[:MAX_FLIP_INTENTS]:
        name = cell(group.intent, MAX_NAME_CHARS) + (" ⚠️" if group.flagged else "")
        picked = [*group.regressed, *group.fixed][:MAX_FLIPS_PER_INTENT]
        for outcome in picked[: MAX_FLIP_ROWS - len(rows)]:
            rows.append(_flip_row(name, outcome))
    return rows, len(rows)


def _flip_row(name: str, outcome: HoldoutOutcome) -> list[str]:
    return [
        name,
        "❌ lost" if outcome.flip == "regressed" else "✅ gained",
        cell(outcome.text),
        _prediction(outcome.candidate, outcome.candidate_score),
        _prediction(outcome.production, outcome.production_score),
    ]


# --- per-intent F1 chart --------------------------------------------------------------


def f1_chart_section(changes: HoldoutChanges) -> str | None:
    moved = [score for score in changes.intent_f1 if abs(score.change) >= MOVED]
    if not moved:
        return None
    # The largest moves, drawn from the largest loss to the largest gain.
    shown = sorted(moved, key=lambda s: (-abs(s.change), s.intent))[:MAX_CHART_POINTS]
    shown.sort(key=lambda s: (s.change, s.intent))
    note = f"{len(moved)} of {len(changes.intent_f1)} intents moved"
    if len(shown) < len(moved):
        note += f"; the {len(shown)} that moved most are shown"
    return f"### Per-intent F1 on the holdout\n\n{_f1_chart(shown)}\n\n<sub>{note}.</sub>"


def _f1_chart(scores: Sequence[IntentF1]) -> str:
    labels = ", ".join(f'"{_label(score.intent)}"' for score in scores)
    return fenced(
        "\n".join(
            [
                "xychart-beta",
                '    title "F1 of the intents that moved (bars: production, line: candidate)"',
                f"    x-axis [{labels}]",
                '    y-axis "F1" 0 --> 1',
                f"    bar [{', '.join(f'{s.production:.4f}' for s in scores)}]",
                f"    line [{', '.join(f'{s.candidate:.4f}' for s in scores)}]",
            ]
        ),
        "mermaid",
    )


def _label(name: str) -> str:
    """An intent name as a Mermaid axis label: quotes, brackets and the like would end
    the label or the list, so only word characters, spaces, dots and dashes stay."""
    return _clip(_LABEL_UNSAFE.sub("_", name), MAX_LABEL_CHARS) or "_"


# --- all of it, for `ci-trainer explain` ----------------------------------------------

CHANGE_PARTS: tuple[Callable[[HoldoutChanges], str | None], ...] = (
    confusions_section,
    flips_section,
    f1_chart_section,
)


def render_changes(
    changes: HoldoutChanges, *, source: str, extra_sections: Sequence[str] = ()
) -> str:
    """The "what changed" part of a run's summary, re-rendered from `changes` (the
    predictions file `source`), after any `extra_sections` (e.g. a data diff)."""
    # With a data diff first, the part is about the data too, not the holdout alone.
    heading = "## What changed" if extra_sections else "## What changed on the holdout"
    parts = [
        heading,
        f"<sub>Re-rendered from {cell(source, 300)} ({len(changes.outcomes)} utterances).</sub>",
        *extra_sections,
        *(body for render in CHANGE_PARTS if (body := render(changes))),
    ]
    return "\n\n".join(parts) + "\n"

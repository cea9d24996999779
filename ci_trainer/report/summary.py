"""The step summary: the headline and the sections in display order, under GitHub's limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ci_trainer.holdout_types import HoldoutChanges
from ci_trainer.report.changes import confusions_section, f1_chart_section, flips_section
from ci_trainer.report.convergence import convergence_section
from ci_trainer.report.data_diff import data_diff_summary
from ci_trainer.report.exports import exports_section
from ci_trainer.report.gate_tables import champion_section, checks_section, gate_section
from ci_trainer.report.headline import render_headline
from ci_trainer.report.metrics import metrics_section, targets_section, weakest_section
from ci_trainer.report.problems import messages_section, troubleshooting_section
from ci_trainer.report.run_details import details_section, run_section
from ci_trainer.result import RunResult

SUMMARY_LIMIT_BYTES = 1024 * 1024  # per step, enforced by GitHub


@dataclass(frozen=True)
class Section:
    """One part of the summary; when space runs out the lowest `keep` goes first."""

    title: str
    keep: int
    body: str


def _on_changes(
    render: Callable[[HoldoutChanges], str | None],
) -> Callable[[RunResult], str | None]:
    """A part of what changed on the holdout (`report.changes`, which `explain` renders
    too) as a summary section."""
    return lambda result: render(result.holdout_changes) if result.holdout_changes else None


# Sections in display order with how long each is kept when space runs out.
_SECTIONS: tuple[tuple[str, int, Callable[[RunResult], str | None]], ...] = (
    ("problems", 95, messages_section),
    ("troubleshooting", 90, troubleshooting_section),
    ("metrics", 85, metrics_section),
    # Small, and it says which flow x locale the metrics' figures come from: kept after
    # the gate's reasons but before the holdout comparison.
    ("targets", 78, targets_section),
    ("gate", 80, gate_section),
    ("champion/challenger", 75, champion_section),
    # What the pull request changed in the data, next to each intent's metric: read
    # with the comparison above it, so kept before the run's details.
    ("data diff", 72, data_diff_summary),
    ("confusions that changed", 72, _on_changes(confusions_section)),
    ("flipped utterances", 45, _on_changes(flips_section)),
    ("per-intent F1 chart", 28, _on_changes(f1_chart_section)),
    ("run details", 70, run_section),
    ("dataset checks", 60, checks_section),
    ("service's intents", 55, exports_section),
    ("weakest intents", 50, weakest_section),
    ("convergence chart", 30, convergence_section),
    ("collapsed details", 10, details_section),
)


def summary_sections(result: RunResult) -> list[Section]:
    sections = []
    for title, keep, render in _SECTIONS:
        body = render(result)
        if body:
            sections.append(Section(title, keep, body))
    return sections


def render_summary(result: RunResult, *, max_bytes: int = SUMMARY_LIMIT_BYTES) -> str:
    """The step summary, under `max_bytes` UTF-8 bytes.

    When it does not fit, whole sections are left out, least important first, and a
    note names them; the headline is always kept (cut at a character boundary only in
    the absurd case that it alone is too long).
    """
    headline = render_headline(result)
    sections = summary_sections(result)
    dropped: list[Section] = []
    while True:
        text = _join(headline, sections, dropped)
        if len(text.encode("utf-8")) <= max_bytes or not sections:
            break
        weakest = min(sections, key=lambda section: section.keep)
        sections.remove(weakest)
        dropped.append(weakest)
    return _clip(text, max_bytes)


def _join(headline: str, sections: list[Section], dropped: list[Section]) -> str:
    parts = [headline, *(section.body for section in sections)]
    if dropped:
        names = ", ".join(section.title for section in dropped)
        parts.append(
            f"> [!NOTE]\n> Trimmed to fit GitHub's step summary limit: left out {names}. "
            "The audit log and the job log have the full record."
        )
    return "\n\n".join(parts) + "\n"


def _clip(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    note = "\n\n(summary cut to fit the step summary limit)\n"
    keep = max(0, max_bytes - len(note))
    clipped = data[:keep].decode("utf-8", errors="ignore")
    return clipped + note if keep else ""

"""What changed on the holdout (issue 16 items 2 and 3), from constructed outcomes: the
flips each way, the confusions that changed, each intent's F1, and their Markdown as
GitHub renders it (cmarkgfm, raw HTML allowed, so anything unescaped would show)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from ci_trainer.backend_types import Prediction
from ci_trainer.holdout_changes import holdout_changes, outcomes_of
from ci_trainer.holdout_types import HoldoutOutcome
from ci_trainer.report import render_summary
from ci_trainer.report.changes import (
    MAX_CONFUSIONS,
    MAX_FLIP_ROWS,
    MAX_FLIPS_PER_INTENT,
    MAX_TEXT_CHARS,
    confusions_section,
    f1_chart_section,
    flips_section,
    render_changes,
)
from ci_trainer.report.convergence import MAX_CHART_POINTS
from ci_trainer.stats import intent_recall_changes, macro_f1


def outcome(
    expected: str,
    candidate: str | None,
    production: str | None,
    text: str | None = None,
    *,
    scores: tuple[float | None, float | None] = (0.5, 0.5),
    flagged: bool = False,
) -> HoldoutOutcome:
    return HoldoutOutcome(
        text=text or f"{expected} said as {candidate}/{production}",
        expected=expected,
        candidate=candidate,
        candidate_score=scores[0],
        production=production,
        production_score=scores[1],
        flagged=flagged,
    )


# Production knows `cancel`; the candidate now takes three of its four for `track`, and
# newly gets one `refund` right that production sent to no intent.
OUTCOMES = [
    outcome("cancel", "track", "cancel", "cancel it", scores=(0.4, 0.9), flagged=True),
    outcome("cancel", "track", "cancel", "stop my order", scores=(0.8, 0.9), flagged=True),
    outcome("cancel", "track", "cancel", "undo the purchase", scores=(0.6, 0.7), flagged=True),
    outcome("cancel", "cancel", "cancel", flagged=True),
    outcome("track", "track", "track"),
    outcome("track", "track", "track"),
    outcome("refund", "refund", None, "money back?", scores=(0.7, 0.2)),
    outcome("refund", "track", "track"),  # wrong both times: no flip, same confusion
]


def test_flips_each_way_are_counted_and_grouped_regressed_intents_first() -> None:
    changes = holdout_changes(OUTCOMES)
    assert (changes.regressed, changes.fixed) == (3, 1)
    assert [(g.intent, g.flagged, len(g.regressed), len(g.fixed)) for g in changes.flips] == [
        ("cancel", True, 3, 0),
        ("refund", False, 0, 1),
    ]
    # The candidate's most confident mistakes first.
    assert [o.text for o in changes.flips[0].regressed] == [
        "stop my order",
        "undo the purchase",
        "cancel it",
    ]
    assert [o.flip for o in OUTCOMES] == [*["regressed"] * 3, None, None, None, "fixed", None]


def test_flagged_intents_come_before_larger_unflagged_losses() -> None:
    outcomes = [outcome("a", "x", "a") for _ in range(5)]
    outcomes += [outcome("b", "x", "b", flagged=True)]
    outcomes += [outcome("c", "x", "c") for _ in range(2)]
    assert [g.intent for g in holdout_changes(outcomes).flips] == ["b", "a", "c"]


def test_confusions_that_changed_most_come_first_and_unchanged_ones_are_left_out() -> None:
    changes = holdout_changes(OUTCOMES)
    pairs = [(c.expected, c.predicted, c.production, c.candidate) for c in changes.confusions]
    # refund -> track is 1 on both sides: not a change.
    assert pairs == [("cancel", "track", 0, 3), ("refund", None, 1, 0)]
    assert changes.confusions[0].change == 3


def test_per_intent_f1_is_counted_per_model_and_averages_to_the_gates_macro_f1() -> None:
    changes = holdout_changes(OUTCOMES)
    by_intent = {s.intent: s for s in changes.intent_f1}
    # cancel: candidate TP 1 of support 4, predicted once: 2*1/(4+1).
    assert by_intent["cancel"].candidate == pytest.approx(0.4)
    assert by_intent["cancel"].production == pytest.approx(1.0)
    # track: candidate TP 2, support 2, predicted 6 times: 2*2/(2+6).
    assert by_intent["track"].candidate == pytest.approx(0.5)
    assert by_intent["track"].support == 2
    gold = [o.expected for o in OUTCOMES]
    for model in ("candidate", "production"):
        predicted = [getattr(o, model) for o in OUTCOMES]
        mean = sum(getattr(s, model) for s in changes.intent_f1) / len(changes.intent_f1)
        assert mean == pytest.approx(macro_f1(gold, predicted))


def test_per_intent_recall_is_every_gold_intents_and_the_gates_own_figure() -> None:
    changes = holdout_changes(OUTCOMES)
    recall = {s.intent: (s.support, s.production, s.candidate) for s in changes.intent_recall}
    assert recall == {"cancel": (4, 1.0, 0.25), "refund": (2, 0.0, 0.5), "track": (2, 1.0, 1.0)}
    # The same figures as the gate's per-intent recall test (which leaves out intents
    # below its min_support; here none are).
    gold = [o.expected for o in OUTCOMES]
    tested = intent_recall_changes(
        gold,
        [o.candidate for o in OUTCOMES],
        [o.production for o in OUTCOMES],
        min_support=1,
    )
    assert {t.intent: (t.support, t.production_recall, t.candidate_recall) for t in tested} == (
        recall
    )


def test_outcomes_come_from_both_models_predictions_with_their_scores() -> None:
    made = outcomes_of(
        ["hi", "bye"],
        ["greet", "leave"],
        [Prediction(intent="greet", confidence=0.9), Prediction(intent=None, confidence=0.1)],
        [Prediction(intent="leave", confidence=0.6), Prediction(intent="leave", confidence=0.8)],
        flagged={"leave"},
    )
    assert made[0] == HoldoutOutcome(
        text="hi",
        expected="greet",
        candidate="greet",
        candidate_score=0.9,
        production="leave",
        production_score=0.6,
    )
    assert (made[1].flip, made[1].flagged, made[1].candidate) == ("regressed", True, None)
    with pytest.raises(ValueError):
        outcomes_of(["one"], ["a", "b"], [], [])


# --- Markdown ---------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(
            cmarkgfm.github_flavored_markdown_to_html(
                markdown, options=Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG
            )
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def test_the_confusion_table_reads_as_a_table() -> None:
    markdown = confusions_section(holdout_changes(OUTCOMES))
    assert markdown is not None
    page = Page(markdown)
    assert page.cells[:5] == ["cancel", "track", "0", "3", "+3"]
    assert page.cells[5:10] == ["refund", "no intent", "1", "0", "-1"]


def test_flips_are_collapsed_with_both_predictions_and_scores() -> None:
    markdown = flips_section(holdout_changes(OUTCOMES))
    assert markdown is not None
    page = Page(markdown)
    assert "details" in page.tags and "summary" in page.tags
    assert page.cells[:5] == [
        "cancel ⚠️",
        "❌ lost",
        "stop my order",
        "track (0.80)",
        "cancel (0.90)",
    ]
    assert (page.cells[15:20]) == [
        "refund",
        "✅ gained",
        "money back?",
        "refund (0.70)",
        "no intent (0.20)",
    ]
    assert "3 that production got right are wrong now, and 1 the other way round" in markdown


def test_hostile_utterances_and_intent_names_cannot_break_out() -> None:
    nasty_text = "::set-output name=x::1 | <script>alert(1)</script> `code` " + "x" * 500
    nasty_intent = "evil|intent::warning::<b>"
    outcomes = [
        outcome(nasty_intent, "other", nasty_intent, nasty_text, flagged=True),
        outcome("other", "other", "other"),
    ]
    changes = holdout_changes(outcomes)
    for markdown in (flips_section(changes), confusions_section(changes)):
        assert markdown is not None
        assert "::" not in markdown
        page = Page(markdown)
        assert set(page.tags) <= {"h3", "p", "details", "summary", "table", "thead"} | {
            "tbody", "tr", "th", "td", "sub", "code",
        }  # fmt: skip
        assert "script" not in page.tags and "b" not in page.tags
        assert any(cell.startswith("evil|intent::warning::<b>") for cell in page.cells)
    flips = flips_section(changes)
    assert flips is not None
    shown = next(c for c in Page(flips).cells if c.startswith("::set-output"))
    assert len(shown) == MAX_TEXT_CHARS and shown.endswith("…")
    chart = f1_chart_section(changes)
    assert chart is not None
    axis = next(line for line in chart.splitlines() if "x-axis" in line)
    assert re.fullmatch(r'    x-axis \["[\w .\-]+"(, "[\w .\-]+")*\]', axis), axis


def test_many_flips_are_bounded_per_intent_and_in_total() -> None:
    outcomes = [
        outcome(f"intent_{i:03d}", "catch_all", f"intent_{i:03d}", f"utterance {i} {j}")
        for i in range(200)
        for j in range(10)
    ]
    changes = holdout_changes(outcomes)
    markdown = flips_section(changes)
    assert markdown is not None
    rows = [line for line in markdown.splitlines() if line.startswith("| intent\\_")]
    assert len(rows) <= MAX_FLIP_ROWS
    per_intent: dict[str, int] = {}
    for row in rows:
        name = row.split(" | ")[0].removeprefix("| ")
        per_intent[name] = per_intent.get(name, 0) + 1
    assert max(per_intent.values()) == MAX_FLIPS_PER_INTENT
    assert f"{2000 - len(rows)} more flipped utterances are in the predictions file" in markdown
    confusions = confusions_section(changes)
    assert confusions is not None
    assert confusions.count("\n| intent\\_") == MAX_CONFUSIONS
    chart = f1_chart_section(changes)
    assert chart is not None
    axis = next(line for line in chart.splitlines() if "x-axis" in line)
    assert axis.count('"') == 2 * MAX_CHART_POINTS
    assert f"200 of 200 intents moved; the {MAX_CHART_POINTS} that moved most" in chart


def test_the_chart_has_a_bar_and_a_line_series_over_the_intents_that_moved() -> None:
    chart = f1_chart_section(holdout_changes(OUTCOMES))
    assert chart is not None
    lines = chart.splitlines()
    assert lines[:3] == ["### Per-intent F1 on the holdout", "", "```mermaid"]
    assert lines[3] == "xychart-beta"
    # Largest loss first: cancel (1.0 -> 0.4), then track (0.8 -> 0.5), refund (0 -> 0.67).
    assert '    x-axis ["cancel", "track", "refund"]' in lines
    assert "    bar [1.0000, 0.8000, 0.0000]" in lines
    assert "    line [0.4000, 0.5000, 0.6667]" in lines


def test_nothing_flipped_is_said_in_one_line_and_draws_no_chart() -> None:
    same = [outcome("a", "a", "a"), outcome("b", "a", "a")]
    changes = holdout_changes(same)
    assert flips_section(changes) == (
        "### Utterances that flipped\n\nOf 2 holdout utterances, 0 that production got right "
        "are wrong now, and 0 the other way round."
    )
    assert confusions_section(changes) is None
    assert f1_chart_section(changes) is None


def test_the_summary_and_explain_render_the_same_parts() -> None:
    from run_results import approved

    changes = holdout_changes(OUTCOMES)
    summary = render_summary(approved().model_copy(update={"holdout_changes": changes}))
    explained = render_changes(changes, source="run.predictions.jsonl", extra_sections=["EXTRA"])
    for render in (confusions_section, flips_section, f1_chart_section):
        part = render(changes)
        assert part is not None
        assert part in summary
        assert part in explained
    assert explained.index("EXTRA") < explained.index("### Confusions that changed")
    # With an extra section (the data diff) it is about more than the holdout.
    assert explained.startswith("## What changed\n\n<sub>Re-rendered from ")
    alone = render_changes(changes, source="run.predictions.jsonl")
    assert alone.startswith("## What changed on the holdout\n\n<sub>Re-rendered from ")


def test_a_huge_holdout_still_fits_the_step_summary() -> None:
    from run_results import approved

    long_text = "&<>|" * 300
    outcomes = [
        outcome(f"intent_{i}" * 5, f"other_{i % 7}", f"intent_{i}" * 5, long_text)
        for i in range(5000)
    ]
    result = approved().model_copy(update={"holdout_changes": holdout_changes(outcomes)})
    summary = render_summary(result)
    assert len(summary.encode("utf-8")) <= 1024 * 1024
    assert "### Utterances that flipped" in summary

"""The "Data diff against the base" section, rendered by cmarkgfm (GitHub's renderer),
with raw HTML allowed so anything the escaping let through would show as a tag."""

from __future__ import annotations

from html.parser import HTMLParser

import cmarkgfm
import yaml
from cmarkgfm.cmark import Options
from run_results import approved

from ci_trainer.data_diff import compare_files
from ci_trainer.data_diff_types import DataDiff
from ci_trainer.datasets import Dataset, parse_dataset
from ci_trainer.report import render_summary
from ci_trainer.report.data_diff import (
    MAX_ROWS,
    MetricChange,
    data_diff_section,
    intent_metric_changes,
)

ALLOWED_TAGS = {"h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
                "details", "summary", "blockquote"}  # fmt: skip


class Page(HTMLParser):
    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def dataset(intents: dict[str, list[str]], name: str = "intents.yaml") -> Dataset:
    return parse_dataset(yaml.safe_dump(intents), name)


HOSTILE = "refund|status <b>x</b> ::error::owned"


def diff_with(before: dict[str, list[str]], after: dict[str, list[str]]) -> DataDiff:
    file = compare_files("ds", "intents.yaml", dataset(before), dataset(after))
    held = compare_files(None, "holdout.yaml", dataset({"a": ["x"]}), dataset({"a": ["x", "y"]}))
    return DataDiff(
        base_ref="main",
        requested_by="GITHUB_BASE_REF",
        resolved_ref="origin/main",
        base_commit="0" * 40,
        datasets=[file],
        holdout=held,
    )


def test_a_row_per_changed_intent_with_its_metric_change() -> None:
    diff = diff_with(
        {"refund_status": ["where is my money"], "greet": ["hi"]},
        {"refund_status": ["where is my money", *(f"refund text {n}" for n in range(40))],
         "greet": ["hi"]},
    )  # fmt: skip
    changes = {"refund_status": MetricChange("holdout recall", 0.7, 0.9)}
    section = data_diff_section(diff, changes)
    assert section is not None
    page = Page(section)
    assert set(page.tags) <= ALLOWED_TAGS
    header, *rows = page.rows
    assert header == ["Intent", "Examples", "Holdout recall"]
    assert rows == [["refund_status", "+40 \u22120 (1 → 41)", "0.70 → 0.90"]]
    text = "".join(page.text)
    assert "Against origin/main at the merge base 000000000000 (GITHUB_BASE_REF)" in text
    assert "The holdout holdout.yaml changed since the base" in text


def test_repository_words_are_escaped_and_cannot_act_as_commands() -> None:
    diff = diff_with(
        {"greet": ["hi"]},
        {"greet": ["hi", "line one\n::error::from a text"], HOSTILE: ["<script>alert(1)</script>"]},
    )
    section = data_diff_section(diff, {})
    assert section is not None
    page = Page(section)
    assert set(page.tags) <= ALLOWED_TAGS  # no <b>, no <script>
    header, *rows = page.rows
    assert all(len(row) == len(header) == 2 for row in rows)  # the | did not split a cell
    assert any(HOSTILE in row[0] for row in rows)
    assert not any(line.startswith("::") for line in section.splitlines())
    assert "<script>alert(1)</script>" in "".join(page.text)  # shown, as text


def test_no_diff_is_one_line_saying_why_and_how() -> None:
    diff = DataDiff(
        base_ref="main",
        requested_by="GITHUB_BASE_REF",
        unavailable="this is a shallow clone: the history is not here",
        hint="set fetch-depth: 0 on actions/checkout",
    )
    section = data_diff_section(diff, {})
    assert section is not None
    page = Page(section)
    assert "".join(page.text).count("\n") <= 2  # the heading, then one paragraph
    assert "No data diff against main: this is a shallow clone" in section
    assert "To get it: set fetch-depth: 0 on actions/checkout." in section
    assert data_diff_section(None, {}) is None  # no base asked for: no section


def test_rows_are_bounded_and_the_rest_counted() -> None:
    before = {f"intent_{n}": [f"text {n}"] for n in range(MAX_ROWS + 7)}
    after = {name: [*texts, f"{name} more"] for name, texts in before.items()}
    section = data_diff_section(diff_with(before, after), {})
    assert section is not None
    assert len(Page(section).rows) == MAX_ROWS + 1
    assert "7 more changed intents are not shown" in section


def test_the_summary_shows_the_section_after_the_comparison_with_holdout_recall() -> None:
    from ci_trainer.holdout_changes import holdout_changes
    from ci_trainer.holdout_types import HoldoutOutcome

    def said(candidate: str, production: str) -> HoldoutOutcome:
        return HoldoutOutcome(
            text=f"card text {candidate} {production}",
            expected="card_lost",
            candidate=candidate,
            production=production,
        )

    # 10 card_lost utterances: production right on 7, the candidate on 9.
    outcomes = [said("card_lost", "card_lost")] * 7 + [said("card_lost", "other")] * 2
    outcomes.append(said("other", "other"))
    diff = diff_with(
        {"card_lost": ["I lost my card"]}, {"card_lost": ["I lost my card", "card gone"]}
    )
    result = approved().model_copy(
        update={"holdout_changes": holdout_changes(outcomes), "data_diff": diff}
    )
    assert intent_metric_changes(result)["card_lost"] == MetricChange("holdout recall", 0.7, 0.9)
    summary = render_summary(result)
    assert summary.index("### Champion / challenger") < summary.index(
        "### Data diff against the base"
    )
    assert "| card\\_lost | +1 \u22120 (1 → 2) | 0.70 → 0.90 |" in summary


def test_without_a_comparison_the_services_f1_is_the_metric() -> None:
    result = approved().model_copy(update={"champion": None})
    changes = intent_metric_changes(result)
    assert result.metrics is not None
    first = result.metrics.per_intent[0]
    assert changes[first.intent].metric == "F1"
    assert changes[first.intent].after == first.f1

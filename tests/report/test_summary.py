"""The step summary, rendered by cmarkgfm (GitHub's own Markdown renderer).

Rendering is done with raw HTML allowed, so anything our escaping let through would
show up as a real tag in the output and fail these tests.
"""

from __future__ import annotations

import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from run_results import ALL, approved, failed, invalid, rejected, skipped

from ci_trainer.backend_types import ConvergencePoint, EvalMetrics, IntentScore, TargetScore
from ci_trainer.report import escape, render_summary
from ci_trainer.report.convergence import MAX_CHART_POINTS
from ci_trainer.report.markdown import fenced
from ci_trainer.result import (
    CheckResult,
    CheckStatus,
    DatasetRecord,
    Message,
    RunResult,
    SupportInfo,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
# Tags our own Markdown produces (or GitHub renders from it); nothing else may appear.
ALLOWED_TAGS = {
    "h2", "h3", "p", "strong", "em", "sub", "table", "thead", "tbody", "tr", "th", "td",
    "ul", "li", "pre", "code", "details", "summary", "blockquote", "a",
}  # fmt: skip


class Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.tables: list[list[int]] = []  # cells per row, per table
        self.headings: list[str] = []
        self._cells = 0
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self._cells = 0
        if tag in ("td", "th"):
            self._cells += 1
        if tag in ("h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.tables[-1].append(self._cells)
        if tag in ("h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)


def render(markdown: str) -> Html:
    html = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG
    )
    parser = Html()
    parser.feed(html)
    parser.html = html  # type: ignore[attr-defined]
    return parser


def test_approved_summary_has_every_section() -> None:
    page = render(render_summary(approved()))
    assert page.headings[0] == "✅ Approved · model banking-nlu"
    assert page.headings[1:] == [
        "Metrics",
        "Gate",
        "Champion / challenger",
        "Run",
        "Dataset checks",
        "Weakest intents",
        "Convergence",
    ]
    assert set(page.tags) <= ALLOWED_TAGS
    assert page.tags.count("table") >= 8  # metrics, gate, champion, run, checks, weakest, ...
    assert "details" in page.tags


def test_metrics_table_rows_show_candidate_threshold_production_delta_verdict() -> None:
    markdown = render_summary(approved())
    assert "| F1 | 0.912 | 0.850 | 0.880 | +0.032 | ✅ pass |" in markdown
    assert "| Recall | 0.919 | n/a | 0.890 | +0.029 | — |" in markdown
    rejected_md = render_summary(rejected())
    assert "| F1 | 0.812 | 0.850 | 0.880 | -0.068 | ❌ fail |" in rejected_md


def test_headline_carries_the_one_reason() -> None:
    page = render(render_summary(rejected()))
    assert page.headings[0] == "❌ Rejected · model banking-nlu"
    assert "F1 0.812 < 0.850" in "".join(page.text)


def test_convergence_is_a_mermaid_xychart() -> None:
    page = render(render_summary(approved()))
    assert '<pre lang="mermaid"><code>xychart-beta' in page.html  # type: ignore[attr-defined]
    assert 'x-axis "epoch" [1, 2, 3' in render_summary(approved())


def test_long_convergence_is_thinned_and_keeps_the_last_epoch() -> None:
    points = [
        ConvergencePoint(epoch=epoch, train_loss=1.0 / epoch, validation_f1=0.9)
        for epoch in range(1, 501)
    ]
    points[3] = ConvergencePoint(epoch=4, train_loss=math.nan, validation_f1=math.inf)
    markdown = render_summary(approved().model_copy(update={"convergence": points}))
    axis = next(line for line in markdown.splitlines() if "x-axis" in line)
    epochs = axis.split("[", 1)[1].rstrip("]").split(", ")
    assert len(epochs) <= MAX_CHART_POINTS
    assert epochs[-1] == "500"
    assert "nan" not in markdown.lower()
    assert "inf" not in markdown.split("```mermaid", 1)[1].lower().split("```", 1)[0]


def test_champion_section_reports_ci_mcnemar_and_the_sentence() -> None:
    markdown = render_summary(approved())
    assert "95% CI +0.008 to +0.054" in markdown
    assert "p = 0.0636" in markdown
    assert "The candidate is better" in markdown
    assert "Intents significantly better: card\\_lost." in markdown


def test_champion_note_when_the_comparison_was_skipped() -> None:
    markdown = render_summary(rejected())
    assert "Not compared: the service has no predict endpoint" in markdown


def test_invalid_config_lists_each_problem_with_file_line_and_column() -> None:
    page = render(render_summary(invalid()))
    assert page.headings[:2] == ["⚠️ Invalid · model banking-nlu", "Problems and notes"]
    text = "".join(page.text)
    assert "training-config.yaml:12:21" in text
    assert "training-config.yaml:20:3" in text
    assert "unknown key 'min_f11' (did you mean 'min_f1'?)" in text


def test_failed_run_has_a_troubleshooting_section_with_the_support_details() -> None:
    page = render(render_summary(failed()))
    assert "Troubleshooting" in page.headings
    text = "".join(page.text)
    assert "trace-7f3a" in text
    assert '"validationSplit": 0.2' in text
    assert "engine down" in text


def test_skipped_run_explains_why() -> None:
    page = render(render_summary(skipped()))
    assert page.headings[0].startswith("⏭️ Skipped")
    assert "fork pull requests get no secrets" in "".join(page.text)


def test_metrics_the_service_did_not_give_are_na() -> None:
    result = approved().model_copy(
        update={
            "metrics": EvalMetrics(version_id="v2", f1=0.9),  # v2: F-score only
            "production": None,
            "gate": [],
        }
    )
    markdown = render_summary(result)
    assert "| F1 | 0.900 | 0.850 | n/a | n/a | — |" in markdown
    assert "| Precision | n/a | 0.800 | n/a | n/a | — |" not in markdown  # no rule, no data
    assert "0.000" not in markdown.split("### Metrics", 1)[1].split("###", 1)[0]


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a | b | c",
    "line\nbreak | x",
    "`code` and ``` fence",
    "**bold** _it_ [link](https://evil.example) ![img](https://evil.example/x.png)",
    "&lt;b&gt; entity",
    "::error::injected",
    "</td></tr></table><h1>owned</h1>",
]


def hostile_result() -> RunResult:
    base = approved()
    scores = [
        IntentScore(intent=name, f1=0.5, precision=0.5, recall=0.5, support=3) for name in HOSTILE
    ]
    checks = [
        CheckResult(check=name, dataset_id=name, status=CheckStatus.FAILED, value=name,
                    threshold=name, message=name)
        for name in HOSTILE
    ]  # fmt: skip
    return base.model_copy(
        update={
            "reason": HOSTILE[0] + " | " + HOSTILE[3],
            "model_id": HOSTILE[8],
            "weakest_intents": scores,
            "checks": checks,
            "metrics": base.metrics.model_copy(update={"per_intent": scores})
            if base.metrics
            else None,
            "datasets": [DatasetRecord(id=name, path=name) for name in HOSTILE],
            "messages": [
                Message(level="error", text=name, title=name, file=name, line=1) for name in HOSTILE
            ],
            "support": SupportInfo(
                endpoint=HOSTILE[1],
                status=500,
                trace_id=HOSTILE[2],
                response_body="````\n" + HOSTILE[0] + "\n```",
                request_payload={"x": HOSTILE[4]},
                dataset_ids=HOSTILE,
            ),
        }
    )


def test_strings_from_config_or_server_cannot_inject_html_or_break_tables() -> None:
    page = render(render_summary(hostile_result()))
    assert set(page.tags) <= ALLOWED_TAGS, set(page.tags) - ALLOWED_TAGS
    assert "h1" not in page.tags and "img" not in page.tags and "script" not in page.tags
    # the only links are the ones built from the runner's GITHUB_* values
    links = re.findall(r'<a href="([^"]*)"', page.html)  # type: ignore[attr-defined]
    assert links == [
        "https://github.com/acme/nlu-models/commit/0123456789abcdef0123456789abcdef01234567",
        "https://github.com/acme/nlu-models/actions/runs/4242",
    ]
    # every row of a table has as many cells as its header row
    assert all(len(set(rows)) == 1 for rows in page.tables), page.tables
    text = "".join(page.text)
    for name in ("<script>alert(1)</script>", "a | b | c", "**bold** _it_", "&lt;b&gt; entity"):
        assert name in text  # shown literally, not interpreted


def test_fenced_blocks_cannot_be_closed_by_their_content() -> None:
    block = fenced("a ``` b\n````\nc")
    assert block.startswith("`````\n") and block.endswith("\n`````")
    html = cmarkgfm.github_flavored_markdown_to_html(block + "\n\n<b>after</b>")
    assert html.count("<pre>") == 1


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_yields_one_literal_line(text: str) -> None:
    escaped = escape(text)
    assert "\n" not in escaped and "<" not in escaped
    rendered = cmarkgfm.github_flavored_markdown_to_html(
        "x " + escaped, options=Options.CMARK_OPT_UNSAFE
    )
    parser = Html()
    parser.feed(rendered)
    assert parser.tags == ["p"]
    assert "".join(parser.text).strip() == "x " + " ".join(text.split("\n")).replace("\n", " ")


def big_result(intents: int) -> RunResult:
    scores = [
        IntentScore(
            intent=f"intent_{index:05d}_" + "x" * 40, f1=0.9, precision=0.9, recall=0.9, support=20
        )
        for index in range(intents)
    ]
    base = approved()
    assert base.metrics is not None
    return base.model_copy(
        update={"metrics": base.metrics.model_copy(update={"per_intent": scores})}
    )


def test_oversized_summary_drops_the_least_important_sections_first() -> None:
    result = big_result(20_000)
    markdown = render_summary(result, max_bytes=1_000_000)
    assert len(markdown.encode("utf-8")) <= 1_000_000
    assert "left out collapsed details" in markdown
    assert "### Metrics" in markdown and "### Convergence" in markdown
    page = render(markdown)
    assert "blockquote" in page.tags  # the note renders as a GitHub alert


def test_small_budget_keeps_the_headline_and_most_important_sections() -> None:
    markdown = render_summary(approved(), max_bytes=2_500)
    assert len(markdown.encode("utf-8")) <= 2_500
    assert markdown.startswith("## ✅ Approved")
    assert "### Metrics" in markdown
    note = markdown.rsplit("left out ", 1)[1]
    for dropped in ("collapsed details", "convergence chart", "weakest intents"):
        assert dropped in note
    assert note.index("collapsed details") < note.index("convergence chart")


def test_the_targets_table_is_trimmed_after_the_champion_and_before_the_gate() -> None:
    base = approved()
    assert base.metrics is not None
    members = [
        TargetScore(id="f/en", label="Shop/en-US", f1=0.93, intent_count=12),
        TargetScore(id="f/de", label="Shop/de-DE", f1=0.912, intent_count=12, sets_combined=["f1"]),
    ]
    result = base.model_copy(
        update={"metrics": base.metrics.model_copy(update={"targets": members})}
    )
    assert "### Targets" in render_summary(result)
    note = render_summary(result, max_bytes=1_000).rsplit("left out ", 1)[1]
    assert note.index("champion/challenger") < note.index("targets") < note.index("gate")


def test_absurd_budget_still_yields_valid_utf8_under_the_limit() -> None:
    result = approved().model_copy(update={"reason": "é" * 5000})
    for limit in (0, 1, 100, 999):
        markdown = render_summary(result, max_bytes=limit)
        assert len(markdown.encode("utf-8")) <= limit


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_decision_renders_with_headings_and_only_our_tags(name: str) -> None:
    markdown = render_summary(ALL[name]())
    page = render(markdown)
    assert page.headings and set(page.tags) <= ALLOWED_TAGS


@pytest.mark.parametrize("name", ["approved", "rejected", "invalid", "failed"])
def test_golden_summaries(name: str) -> None:
    """Run with CI_TRAINER_UPDATE_GOLDEN=1 to rewrite the files after a deliberate change."""
    markdown = render_summary(ALL[name]())
    path = GOLDEN / f"{name}.md"
    if os.environ.get("CI_TRAINER_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
    assert markdown == path.read_text(encoding="utf-8")


def test_outputs_metrics_json_is_compact_and_parseable() -> None:
    from ci_trainer.report import build_outputs

    document = json.loads(build_outputs(approved())["metrics"])
    assert document["candidate"]["f1"] == 0.912
    assert "per_intent" not in document["candidate"]


def test_links_are_made_only_from_well_formed_provenance() -> None:
    base = approved()
    hostile = base.provenance.model_copy(
        update={"server_url": "javascript:alert(1)//", "repository": "a/b) [x](https://evil"}
    )
    markdown = render_summary(base.model_copy(update={"provenance": hostile}))
    page = render(markdown)
    assert "<a " not in page.html  # type: ignore[attr-defined]
    assert "| Commit | 0123456789ab |" in markdown

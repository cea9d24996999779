"""Property tests: no string, however crafted, escapes `escape()` or the summary's limit."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options
from hypothesis import given, settings
from hypothesis import strategies as st
from run_results import approved

from ci_trainer.backend_types import IntentScore
from ci_trainer.report import escape, render_summary
from ci_trainer.result import Message

# Characters that Markdown, HTML and GFM's extensions treat specially, mixed with text.
SPECIAL = st.sampled_from([*"<>&|`*_[]()!#\\~:.@/\n\r\t ", "www.", "http://", "```", "::"])
HOSTILE_TEXT = st.lists(st.one_of(SPECIAL, st.text(max_size=5)), max_size=30).map("".join)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markdown: str) -> Tags:
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    parser = Tags()
    parser.feed(html)
    return parser


@settings(max_examples=500, deadline=None)
@given(HOSTILE_TEXT)
def test_escaped_text_renders_as_one_plain_paragraph(text: str) -> None:
    page = parse("x " + escape(text))
    assert page.tags == ["p"]
    shown = re.sub(r"[\x00-\x1f\x7f]", " ", "x " + text).replace("\u2060", "")
    rendered = "".join(page.text).replace("\u2060", "")  # the joiner that breaks e-mail links
    assert " ".join(rendered.split()) == " ".join(shown.split())


@settings(max_examples=60, deadline=None)
@given(
    reason=HOSTILE_TEXT,
    intents=st.lists(HOSTILE_TEXT, max_size=8),
    limit=st.integers(min_value=0, max_value=20_000),
)
def test_any_run_renders_within_its_limit_with_only_our_tags(
    reason: str, intents: list[str], limit: int
) -> None:
    base = approved()
    result = base.model_copy(
        update={
            "reason": reason,
            "weakest_intents": [IntentScore(intent=name, f1=0.5, support=3) for name in intents],
            "messages": [
                Message(level="warning", text=name, file=name, line=1) for name in intents
            ],
        }
    )
    markdown = render_summary(result, max_bytes=limit)
    assert len(markdown.encode("utf-8")) <= limit
    full = parse(render_summary(result))
    allowed = {"h2", "h3", "p", "strong", "sub", "table", "thead", "tbody", "tr", "th", "td",
               "ul", "li", "pre", "code", "details", "summary", "blockquote", "a"}  # fmt: skip
    assert set(full.tags) <= allowed


def test_a_blank_reason_does_not_turn_the_headline_into_a_rule() -> None:
    for reason in ("", "   ", "\n\t"):
        page = parse(render_summary(approved().model_copy(update={"reason": reason})))
        assert "hr" not in page.tags
        assert "No reason was recorded." in "".join(page.text)

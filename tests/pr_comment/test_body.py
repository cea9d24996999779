"""The comment's Markdown, rendered by cmarkgfm (GitHub's renderer) with raw HTML let
through, so that anything a hostile config, service or repository slipped in would show."""

from __future__ import annotations

from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from run_results import ALL, approved

from ci_trainer.pr_comment.body import (
    GITHUB_COMMENT_LIMIT,
    MAX_BODY_CHARS,
    is_ours,
    marker,
    render_comment,
    run_url,
)
from ci_trainer.result import Provenance, RunResult

RUN = "https://github.com/acme/nlu-models/actions/runs/4242/attempts/1"
ALLOWED_TAGS = {"h3", "p", "strong", "sub", "table", "thead", "tbody", "tr", "th", "td", "a"}


class Page(HTMLParser):
    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str | None] = []
        self.comments: list[str] = []
        self.text: list[str] = []
        self.feed(
            cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_decision_renders_to_plain_markdown(name: str) -> None:
    result = ALL[name]()
    body = render_comment(result, config="training-config.yaml", link=run_url(result.provenance))
    page = Page(body)
    assert set(page.tags) <= ALLOWED_TAGS
    assert page.comments == [" ci-trainer pr-comment config=training-config.yaml "]
    assert page.links == [RUN]
    assert is_ours(body, marker("training-config.yaml"))


HOSTILE = (
    "<img src=x onerror=alert(1)> --> @acme/maintainers [click](javascript:alert(1)) "
    "https://evil.example ::error::forged\n## not a heading <script>x</script>"
)


def hostile() -> RunResult:
    base = approved()
    champion = base.champion
    assert champion is not None
    return base.model_copy(
        update={
            "reason": HOSTILE * 2000,  # far more than GitHub would take
            "model_id": HOSTILE,
            "tool_version": HOSTILE,
            "champion": champion.model_copy(update={"verdict": HOSTILE, "conclusion": None}),
        }
    )


def test_hostile_text_stays_text_and_the_body_stays_under_the_limit() -> None:
    config = "models/x-->\n<script>alert(1)</script>/training-config.yaml"
    body = render_comment(hostile(), config=config, link=RUN)
    assert len(body) <= MAX_BODY_CHARS < GITHUB_COMMENT_LIMIT
    assert len(body) < 10_000  # each part is bounded, not only the whole
    page = Page(body)
    assert set(page.tags) <= ALLOWED_TAGS
    assert page.links == [RUN]  # no link from the text, and no autolinked URL
    assert len(page.comments) == 1 and "\n" not in page.comments[0]
    assert (
        page.comments[0]
        == " ci-trainer pr-comment config=" + marker(config).split("=", 1)[1][: -len(" -->")] + " "
    )
    text = "".join(page.text)
    assert "@acme" not in text  # no mention: a word joiner follows the @
    assert "<script>" in text  # shown as text, which is what it is
    assert body.splitlines()[0] == marker(config)
    assert is_ours(body, marker(config))


def test_the_marker_tells_configs_apart_even_when_long() -> None:
    long_a, long_b = "a/" * 400 + "one.yaml", "a/" * 400 + "two.yaml"
    assert marker(long_a) != marker(long_b)
    assert len(marker(long_a)) < 120 and "sha256:" in marker(long_a)
    assert marker("training-config.yaml") != marker("models/training-config.yaml")
    assert not is_ours(f"> {marker('x.yaml')}", marker("x.yaml"))
    assert not is_ours(marker("x.yaml") + "extra", marker("x.yaml"))


@pytest.mark.parametrize(
    ("provenance", "expected"),
    [
        (Provenance(repository="acme/nlu", run_id="9", run_attempt="3"), "https://github.com/acme/nlu/actions/runs/9/attempts/3"),
        (Provenance(repository="acme/nlu", run_id="9", server_url="https://ghes.example.com"), "https://ghes.example.com/acme/nlu/actions/runs/9"),
        (Provenance(repository="acme/nlu", run_id="9)](javascript:x)"), None),
        (Provenance(repository="acme/nlu) x", run_id="9"), None),
        (Provenance(repository="acme/nlu", run_id="9", server_url="javascript:alert(1)//"), None),
        (Provenance(run_id="9"), None),
    ],
)  # fmt: skip
def test_the_link_to_the_run_is_built_only_from_what_github_sends(
    provenance: Provenance, expected: str | None
) -> None:
    assert run_url(provenance) == expected


def test_without_a_link_the_comment_says_where_the_report_is() -> None:
    body = render_comment(approved(), config="training-config.yaml", link=None)
    assert "The full report is in this run's step summary." in body
    assert Page(body).links == []

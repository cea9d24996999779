"""The comment's data diff line (issue 16 with issue 17): the diff's counts in one line,
or why there is none, escaped and bounded like the rest of the body, rendered by
cmarkgfm with raw HTML let through so anything the escaping missed would show."""

from __future__ import annotations

import yaml
from run_results import approved

from ci_trainer.data_diff import compare_files
from ci_trainer.data_diff_types import DataDiff
from ci_trainer.datasets import Dataset, parse_dataset
from ci_trainer.pr_comment.body import data_diff_line, render_comment
from ci_trainer.result import RunResult

from .test_body import ALLOWED_TAGS, RUN, Page

COMMIT = "abc1234def5678abc1234def5678abc1234def56"
BASE = {
    "refund_status": [f"where is my refund {n}" for n in range(40)],
    "cancel_order": ["cancel my order", "stop the order", "cancel it now"],
    "track_order": ["where is my parcel", "track my order"],
}
HEAD = {
    # +6 refund examples, one of them moved in from track_order; 2 cancel examples gone.
    "refund_status": [*BASE["refund_status"], *(f"refund please {n}" for n in range(5)),
                      "track my order"],
    "cancel_order": ["cancel my order"],
    "track_order": ["where is my parcel"],
}  # fmt: skip
HOLDOUT = {"refund_status": ["refund me"], "cancel_order": ["cancel that"]}


def dataset(intents: dict[str, list[str]], name: str) -> Dataset:
    return parse_dataset(yaml.safe_dump(intents), name)


def diff(holdout_after: dict[str, list[str]] | None = None) -> DataDiff:
    shop = compare_files(
        "ds-shop", "datasets/shop.yaml", dataset(BASE, "shop.yaml"), dataset(HEAD, "shop.yaml")
    )
    held = compare_files(
        None,
        "datasets/holdout.yaml",
        dataset(HOLDOUT, "holdout.yaml"),
        dataset(holdout_after or HOLDOUT, "holdout.yaml"),
    )
    return DataDiff(
        base_ref="main",
        requested_by="GITHUB_BASE_REF",
        resolved_ref="origin/main",
        base_commit=COMMIT,
        datasets=[shop],
        holdout=held,
    )


def with_diff(data_diff: DataDiff | None) -> RunResult:
    return approved().model_copy(update={"data_diff": data_diff})


def test_the_line_sums_the_diffs_counts_and_names_the_base() -> None:
    line = data_diff_line(with_diff(diff()))
    assert line == (
        "**Data vs main (abc1234):** 3 intents changed, +5 \u22122 examples, 1 moved; "
        "holdout unchanged."
    )


def test_a_changed_holdout_is_called_out() -> None:
    changed = diff({**HOLDOUT, "cancel_order": ["cancel that", "call it off"]})
    line = data_diff_line(with_diff(changed))
    assert line is not None
    assert line.endswith("; holdout changed (1 intents, +1 \u22120 examples, 0 moved).")


def test_without_a_base_there_is_no_line_and_unchanged_data_says_so() -> None:
    assert data_diff_line(with_diff(None)) is None
    same = diff().model_copy(
        update={"datasets": [compare_files("ds-shop", "s.yaml", dataset(BASE, "s.yaml"),
                                           dataset(BASE, "s.yaml"))]}
    )  # fmt: skip
    assert data_diff_line(with_diff(same)) == (
        "**Data vs main (abc1234):** datasets unchanged; holdout unchanged."
    )


def test_an_unavailable_diff_gives_its_reason_and_hint_in_one_line() -> None:
    missing = DataDiff(
        base_ref="main",
        requested_by="GITHUB_BASE_REF",
        unavailable="neither origin/main nor main is in this clone",
        hint="set fetch-depth: 0 on actions/checkout",
    )
    line = data_diff_line(with_diff(missing))
    assert line == (
        "**Data vs main:** not compared (neither origin/main nor main is in this clone). "
        "To get it: set fetch-depth: 0 on actions/checkout."
    )


def test_the_line_joins_the_comment_after_the_holdout_and_before_the_link() -> None:
    body = render_comment(with_diff(diff()), config="training-config.yaml", link=RUN)
    paragraphs = body.split("\n\n")
    index = next(i for i, p in enumerate(paragraphs) if p.startswith("**Data vs main"))
    assert paragraphs[index - 1].startswith("**Holdout:**")
    assert paragraphs[index + 1].startswith("[Full report")
    text = "".join(Page(body).text)
    assert "Data vs main (abc1234): 3 intents changed, +5 \u22122 examples, 1 moved" in text


HOSTILE = "<img src=x onerror=alert(1)> @acme/maintainers [x](javascript:alert(1)) https://evil.example\n## h"


def test_hostile_ref_reason_and_hint_stay_one_bounded_line_of_text() -> None:
    hostile = DataDiff(
        base_ref=HOSTILE * 50,
        requested_by="--base",
        unavailable=HOSTILE * 50,
        hint=HOSTILE * 50,
        base_commit="not-a-commit",
    )
    line = data_diff_line(with_diff(hostile))
    assert line is not None and "\n" not in line and len(line) < 2_000
    body = render_comment(with_diff(hostile), config="training-config.yaml", link=RUN)
    page = Page(body)
    assert set(page.tags) <= ALLOWED_TAGS and "img" not in page.tags and "h2" not in page.tags
    assert page.links == [RUN]
    assert "@acme" not in "".join(page.text)
    # A commit that is not hex is not shown as one.
    forged = diff().model_copy(update={"base_commit": "](javascript:x)"})
    assert (data_diff_line(with_diff(forged)) or "").startswith("**Data vs main:** 3 intents")

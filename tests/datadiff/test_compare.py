"""The comparison itself (ci_trainer.data_diff), on datasets parsed from YAML text."""

from __future__ import annotations

import yaml

from ci_trainer.data_diff import MAX_INTENTS, MAX_TEXTS, compare_files
from ci_trainer.data_diff_types import FileDiff, IntentDiff
from ci_trainer.datasets import Dataset, parse_dataset


def dataset(intents: dict[str, list[str]]) -> Dataset:
    return parse_dataset(yaml.safe_dump(intents), "intents.yaml")


def diff(before: dict[str, list[str]] | None, after: dict[str, list[str]]) -> FileDiff:
    return compare_files("ds", "intents.yaml", dataset(before) if before else None, dataset(after))


def by_name(result: FileDiff) -> dict[str, IntentDiff]:
    return {intent.intent: intent for intent in result.intents}


WORDS = [f"utterance number {n}" for n in range(40)]


def test_same_data_written_differently_is_no_change() -> None:
    before = {"greet": ["Hello there!", "good  morning"], "bye": ["See you."]}
    after = {"bye": ["see you"], "greet": ["good morning", "hello there"]}
    result = diff(before, after)
    assert not result.differs
    assert result.intents == []
    assert (result.base_examples, result.head_examples) == (3, 3)


def test_examples_added_and_removed_per_intent() -> None:
    before = {"greet": ["hello", "hi"], "bye": ["bye", "see you"]}
    after = {"greet": ["hello", "hi", "hey", "howdy"], "bye": ["bye"]}
    result = diff(before, after)
    greet, bye = by_name(result)["greet"], by_name(result)["bye"]
    assert (greet.change, greet.added_count, greet.removed_count) == ("changed", 2, 0)
    assert greet.added == ["hey", "howdy"]
    assert (greet.base_examples, greet.head_examples) == (2, 4)
    assert (bye.added_count, bye.removed_count, bye.removed) == (0, 1, ["see you"])
    assert (result.examples_added_count, result.examples_removed_count) == (2, 1)
    assert result.intents_changed_count == 2
    assert [i.intent for i in result.intents] == ["greet", "bye"]  # most changed first


def test_the_same_text_once_more_is_an_example_added() -> None:
    result = diff({"greet": ["hello"]}, {"greet": ["hello", "Hello!"]})
    assert by_name(result)["greet"].added_count == 1


def test_a_text_under_another_intent_than_at_the_base_is_a_move_not_an_add() -> None:
    before = {"cancel": ["stop my order", "cancel it"], "refund": ["money back"]}
    after = {"cancel": ["cancel it"], "refund": ["money back", "Stop my order?"]}
    result = diff(before, after)
    refund, cancel = by_name(result)["refund"], by_name(result)["cancel"]
    assert (refund.added_count, refund.moved_in_count, refund.moved_out_count) == (0, 1, 0)
    assert [(m.text, m.from_intent, m.to_intent) for m in refund.moved_in] == [
        ("Stop my order?", "cancel", "refund")
    ]
    assert (cancel.removed_count, cancel.moved_out_count) == (0, 1)
    assert result.examples_moved_count == 1
    assert (result.examples_added_count, result.examples_removed_count) == (0, 0)


def test_an_intent_gone_whose_examples_mostly_went_to_a_new_one_is_renamed() -> None:
    before = {"track_order": WORDS[:10], "other": ["x"]}
    # 6 of 10 kept under the new name (more than half), 4 reworded, 5 new.
    after = {"order_status": WORDS[:6] + WORDS[20:29], "other": ["x"]}
    result = diff(before, after)
    [renamed] = result.intents
    assert (renamed.intent, renamed.change, renamed.renamed_from) == (
        "order_status",
        "renamed",
        "track_order",
    )
    assert (renamed.added_count, renamed.removed_count, renamed.moved_in_count) == (9, 4, 0)
    assert (result.intents_renamed_count, result.intents_added_count) == (1, 0)
    assert result.intents_removed_count == 0


def test_half_of_the_examples_or_fewer_is_no_rename_but_moves() -> None:
    before = {"track_order": WORDS[:10]}
    after = {"order_status": WORDS[:5], "shipping": WORDS[5:10]}  # split evenly: no rename
    result = diff(before, after)
    changes = {i.intent: i.change for i in result.intents}
    assert changes == {"order_status": "added", "shipping": "added", "track_order": "removed"}
    assert result.examples_moved_count == 10
    assert by_name(result)["track_order"].moved_out_count == 10


def test_a_new_intent_renames_only_the_gone_intent_it_shares_most_with() -> None:
    before = {"a": WORDS[:4], "b": WORDS[10:16]}
    after = {"merged": WORDS[:4] + WORDS[10:16]}
    result = diff(before, after)
    merged = by_name(result)["merged"]
    assert (merged.change, merged.renamed_from) == ("renamed", "b")
    assert merged.moved_in_count == 4
    assert by_name(result)["a"].change == "removed"


def test_intents_added_and_removed() -> None:
    result = diff({"greet": ["hi"], "old": ["gone away"]}, {"greet": ["hi"], "new": ["brand new"]})
    assert {i.intent: i.change for i in result.intents} == {"new": "added", "old": "removed"}
    assert (result.intents_added_count, result.intents_removed_count) == (1, 1)


def test_a_file_new_since_the_base_adds_every_intent() -> None:
    result = diff(None, {"greet": ["hi", "hello"], "bye": ["bye"]})
    assert not result.at_base and result.differs
    assert result.base_sha256 is None
    assert (result.intents_added_count, result.examples_added_count) == (2, 3)


def test_lists_are_bounded_and_counts_whole() -> None:
    before = {f"intent_{n:04d}": [f"text {n}"] for n in range(MAX_INTENTS + 50)}
    after = {
        name: [*texts, *(f"{name} new {k}" for k in range(MAX_TEXTS + 3))]
        for name, texts in before.items()
    }
    result = diff(before, after)
    assert result.intents_changed_count == MAX_INTENTS + 50
    assert len(result.intents) == MAX_INTENTS
    assert result.examples_added_count == (MAX_INTENTS + 50) * (MAX_TEXTS + 3)
    first = result.intents[0]
    assert first.added_count == MAX_TEXTS + 3
    assert len(first.added) == MAX_TEXTS

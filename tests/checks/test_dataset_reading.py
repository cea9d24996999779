"""Dataset reading details the gate relies on: scalars keep their source text, deep or
aliased YAML ends in DatasetError with either loader, the GC is restored."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_trainer.datasets import Example, parse_dataset, yaml_loader
from ci_trainer.datasets.yaml_events import AliasFound, YamlEvents
from ci_trainer.datasets.yaml_nodes import parse_yaml_nodes
from ci_trainer.datasets.yaml_reader import parse_yaml
from ci_trainer.errors import DatasetError

# Same knob as tests/config/test_fuzz.py: CI_TRAINER_FUZZ_EXAMPLES for a long run.
FUZZ = settings(
    max_examples=int(os.environ.get("CI_TRAINER_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_yaml_scalars_keep_their_source_text() -> None:
    data = parse_dataset("numbers:\n  - 1.0\n  - yes\n  - null\n  - 2024-01-01\n", "d.yaml")
    assert [example.text for example in data.examples] == ["1.0", "yes", "null", "2024-01-01"]


def test_scores_are_still_numbers() -> None:
    data = parse_dataset("a:\n  - {text: hi, score: 0.75}\n  - {text: yo, score: 1}\n", "d.yaml")
    assert [example.score for example in data.examples] == [0.75, 1.0]


# libyaml stops at 1,000 levels; the pure-Python composer hits the recursion limit first.
@pytest.mark.parametrize("loader,depth", [("default", 5000), ("pure-python", 700)])
def test_deep_nesting_is_a_dataset_error(
    loader: str, depth: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if loader == "pure-python":
        monkeypatch.setattr(yaml_loader, "LOADER", yaml.SafeLoader)
    text = "a: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(DatasetError) as caught:
        parse_dataset(text, "d.yaml")
    expected = (
        "not valid YAML: exceeded maximum nesting depth"
        if loader == "default"
        else "intent 'a': an example must be a string or {text, score}"
    )
    assert caught.value.issues[0].message == expected
    # The node reader (used for files with aliases) is bounded the same way.
    with pytest.raises(DatasetError):
        parse_yaml_nodes(text, "d.yaml")


ALIAS_HINT = (
    "write each example out once: a YAML alias (*name) only repeats data or labels it twice"
)


def test_aliases_are_not_expanded() -> None:
    text = "a: &a [x, y]\nb: [*a, *a]\n"
    with pytest.raises(DatasetError) as caught:
        parse_dataset(text, "d.yaml")
    # Each alias is the anchored list itself (reported where it is defined), never a copy.
    assert [(i.line, i.message, i.hint) for i in caught.value.issues] == [
        (1, "intent 'b': an alias repeats examples already given", ALIAS_HINT),
        (1, "intent 'b': an alias repeats examples already given", ALIAS_HINT),
    ]


def test_gc_state_is_restored() -> None:
    assert gc.isenabled()
    parse_dataset("a:\n  - x\n", "d.yaml")
    assert gc.isenabled()
    with pytest.raises(DatasetError):
        parse_dataset("a: [\n", "d.yaml")
    assert gc.isenabled()
    gc.disable()
    try:
        parse_dataset("a:\n  - x\n", "d.yaml")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_aliased_example_is_refused() -> None:
    with pytest.raises(DatasetError) as caught:
        parse_dataset("a:\n  - &hi hello\n  - {text: x}\nb:\n  - *hi\n", "d.yaml")
    assert [(i.line, i.message) for i in caught.value.issues] == [
        (2, "intent 'b': an alias repeats examples already given")
    ]


def test_anchors_alone_are_fine() -> None:
    data = parse_dataset("a:\n  - &hi hello\n  - {text: x}\n", "d.yaml")
    assert [(e.intent, e.text) for e in data.examples] == [("a", "hello"), ("a", "x")]


FRAGMENTS = [
    "a:", "b:", "\n  - ", "\n  - ", "hello", "{text: hi, score: 0.5}", "{text: x}",
    "{text: [q]}", "{score: 2}", "{text: y, score: nan}", "{foo: 1}", "{? [k] : v}",
    "[x, y]", "[]", "{}", "''", "? [k]\n: ", "---\n", "\n", "  ", "- ", ": ", "#c",
    "!!str ", "!!map ", "&x ", "1.5", "~", "'q", "[", "}", "%YAML 1.1\n", "...\n", "\t",
]  # fmt: skip


def outcome(read: object, text: str) -> tuple[str, object]:
    try:
        examples: list[Example] = read(text, "d.yaml")  # type: ignore[operator]
    except DatasetError as exc:
        return "error", [(i.line, i.message, i.hint) for i in exc.issues]
    return "examples", examples


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
def test_event_reader_matches_the_node_reader(text: str) -> None:
    """The fast event reader gives exactly the node reader's examples and messages."""
    try:
        fast = outcome(lambda t, n: YamlEvents(t, n).read(), text)
    except AliasFound:
        return  # such files are read by the node reader itself
    assert fast == outcome(parse_yaml_nodes, text)


def test_alias_amplification_is_refused_in_bounded_time() -> None:
    """One list of 100 examples aliased by 20,000 intents: refused, not expanded to 2M."""
    lines = ["base: &b [" + ", ".join(f"utterance {i}" for i in range(100)) + "]"]
    lines += [f"intent_{i}: *b" for i in range(20_000)]
    with pytest.raises(DatasetError) as caught:
        parse_dataset("\n".join(lines) + "\n", "d.yaml")
    assert len(caught.value.issues) == 50  # like the CSV readers, the first 50
    assert caught.value.issues[0].message == (
        "intent 'intent_0': an alias repeats examples already given"
    )


@pytest.mark.parametrize("text", ["&x : &x ", "a: &x [b]\nc: &x [d]\n", "a:\n  - &t text\n"])
def test_anchors_are_read_like_the_node_reader(text: str) -> None:
    assert outcome(parse_yaml, text) == outcome(parse_yaml_nodes, text)


@pytest.mark.parametrize("reader", [parse_yaml_nodes, parse_yaml])
def test_a_tab_in_a_dataset_is_named_as_a_tab(reader: Callable[[str, str], object]) -> None:
    # PyYAML says only "found character that cannot start any token".
    with pytest.raises(DatasetError) as caught:
        reader("greet:\n  - hello\n\t- hi\n", "d.yaml")
    issue = caught.value.issues[0]
    assert (issue.line, issue.message) == (
        3,
        "not valid YAML: a tab character; YAML indents with spaces only (replace it with spaces)",
    )

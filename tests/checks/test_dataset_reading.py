"""Dataset reading details the gate relies on: scalars keep their source text, deep or
aliased YAML ends in DatasetError with either loader, the GC is restored."""

from __future__ import annotations

import gc

import pytest
import yaml

from ci_trainer import datasets
from ci_trainer.datasets import parse_dataset
from ci_trainer.errors import DatasetError


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
        monkeypatch.setattr(datasets, "_YAML_LOADER", yaml.SafeLoader)
    with pytest.raises(DatasetError) as caught:
        parse_dataset("a: " + "[" * depth + "]" * depth + "\n", "d.yaml")
    assert caught.value.issues[0].message.startswith("not valid YAML: ")


def test_aliases_are_not_expanded() -> None:
    text = "a: &a [x, y]\nb: [*a, *a]\n"
    with pytest.raises(DatasetError) as caught:
        parse_dataset(text, "d.yaml")
    # Each alias is the anchored list itself (reported where it is defined), never a copy.
    assert [(issue.line, issue.message) for issue in caught.value.issues] == [
        (1, "intent 'b': an example must be a string or {text, score}"),
        (1, "intent 'b': an example must be a string or {text, score}"),
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

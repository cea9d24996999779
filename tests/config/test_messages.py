"""Helpers that word config messages."""

from __future__ import annotations

import pytest
from pydantic.fields import FieldInfo

from ci_trainer.config.messages import bounds_text, describe, field_path_text, model_at
from ci_trainer.config.model import (
    DatasetRef,
    GateSection,
    Hyperparameters,
    PerIntentGate,
    TrainingConfig,
)


@pytest.mark.parametrize(
    "path,text",
    [
        ((), ""),
        (("gate", "min_f1"), "gate.min_f1"),
        (("datasets", 1, "path"), "datasets[1].path"),
        (("datasets", 0), "datasets[0]"),
    ],
)
def test_field_path_text(path: tuple[str | int, ...], text: str) -> None:
    assert field_path_text(path) == text


@pytest.mark.parametrize(
    "value,text",
    [
        (None, "nothing (null)"),
        (True, "true"),
        ({}, "a mapping"),
        ([1], "a list"),
        ("abc", "the text 'abc'"),
        ("x" * 100, "the text '" + "x" * 60 + "...'"),
        (1.5, "1.5"),
        pytest.param(10**5000, "a very large number", id="huge-int"),
    ],
)
def test_describe(value: object, text: str) -> None:
    assert describe(value) == text


@pytest.mark.parametrize(
    "info,text",
    [
        (Hyperparameters.model_fields["epochs"], "from 10 to 500"),
        (Hyperparameters.model_fields["learning_rate"], "above 0.0 and at most 0.1"),
        (TrainingConfig.model_fields["backend"], ""),
        (None, ""),
    ],
)
def test_bounds_text(info: FieldInfo | None, text: str) -> None:
    assert bounds_text(info) == text


def test_model_at_follows_lists_and_optionals() -> None:
    assert model_at(TrainingConfig, ("datasets", 3)) is DatasetRef
    assert model_at(TrainingConfig, ("gate",)) is GateSection
    assert model_at(TrainingConfig, ("gate", "per_intent")) is PerIntentGate
    assert model_at(TrainingConfig, ("gate", "min_f1")) is None
    assert model_at(TrainingConfig, ("nope", "x")) is None


def test_issue_wording_for_list_limits_and_other_patterns() -> None:
    from ci_trainer.config.messages import issue_from_error

    def word(error: dict[str, object]) -> str:
        return issue_from_error(error, root=TrainingConfig, marks={}, file="c.yaml").message

    assert word(
        {"type": "too_long", "loc": ("cognigy_v2", "targets", 0, "locales"), "input": [],
         "ctx": {"max_length": 10}}
    ) == "expected at most 10 items"  # fmt: skip
    assert word(
        {"type": "string_pattern_mismatch", "loc": ("model", "id"), "input": "x y",
         "ctx": {"pattern": "^\\S+$"}}
    ) == "expected text matching `^\\S+$`, got the text 'x y'"  # fmt: skip
    assert word(
        {"type": "string_pattern_mismatch", "loc": ("webhook", "url_env"), "input": "https://x",
         "ctx": {"pattern": "^[A-Z]+$"}}
    ) == "expected the name of an environment variable, not its value"  # fmt: skip

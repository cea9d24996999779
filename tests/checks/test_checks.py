"""The dataset gate: every check's passed / failed / warning / skipped paths, with local
data, service stats, or both."""

from __future__ import annotations

from typing import Any

import pytest

from ci_trainer.backend_types import DatasetStats
from ci_trainer.checks import (
    ANNOTATION_SCORE,
    DUPLICATES,
    HOLDOUT_LEAKAGE,
    IMBALANCE,
    LABEL_CONFLICTS,
    MAX_DETAILS,
    MIN_EXAMPLES,
    SERVICE_MISMATCH,
    DatasetInput,
    blocking,
    check_annotation_score,
    check_duplicates,
    check_holdout_leakage,
    check_imbalance,
    check_label_conflicts,
    check_min_examples,
    check_service_mismatch,
    run_checks,
)
from ci_trainer.config.model import DatasetRef, TrainingConfig, ValidationSection
from ci_trainer.datasets import Dataset, parse_dataset
from ci_trainer.result import CheckResult, CheckStatus

PASSED, FAILED, WARNING, SKIPPED = (
    CheckStatus.PASSED,
    CheckStatus.FAILED,
    CheckStatus.WARNING,
    CheckStatus.SKIPPED,
)


def dataset(spec: dict[str, list[Any]], name: str = "data/intents.yaml") -> Dataset:
    """A dataset from {intent: [text or (text, score), ...]}, via the real YAML reader."""
    lines = []
    for intent, examples in spec.items():
        lines.append(f"{intent}:")
        for example in examples:
            if isinstance(example, tuple):
                lines.append(f"  - {{text: '{example[0]}', score: {example[1]}}}")
            else:
                lines.append(f"  - '{example}'")
    return parse_dataset("\n".join(lines) + "\n", name)


def counts(**intents: int) -> dict[str, list[Any]]:
    return {intent: [f"{intent} example {i}" for i in range(n)] for intent, n in intents.items()}


def stats(distribution: dict[str, int], score: float | None = None, ds: str = "ds") -> DatasetStats:
    return DatasetStats(
        dataset_id=ds,
        example_count=sum(distribution.values()),
        intent_count=len(distribution),
        intent_distribution=distribution,
        average_annotation_score=score,
    )


def item(
    local: Dataset | None = None, service: DatasetStats | None = None, ds: str = "ds"
) -> DatasetInput:
    return DatasetInput(
        ref=DatasetRef(id=ds, path=local.path if local else None), local=local, service=service
    )


RULES = ValidationSection(
    max_imbalance_ratio=3, min_annotation_score=0.8, min_examples_per_intent=5
)


def config(**validation: Any) -> TrainingConfig:
    return TrainingConfig.model_validate(
        {
            "version": 1,
            "model": {"id": "m"},
            "datasets": [{"id": "ds"}],
            "validation": {"max_imbalance_ratio": 3, "min_examples_per_intent": 5, **validation},
        }
    )


def summary(result: CheckResult) -> tuple[CheckStatus, Any, Any, str]:
    return result.status, result.value, result.threshold, result.message


# --- imbalance -------------------------------------------------------------------------


def test_imbalance_passes_at_the_threshold() -> None:
    result = check_imbalance(item(dataset(counts(a=9, b=3))), RULES)
    assert summary(result) == (
        PASSED,
        3.0,
        3.0,
        "imbalance ratio 3.00 <= 3: largest intent 'a' has 9 examples, smallest 'b' has 3 "
        "(committed file)",
    )
    assert result.dataset_id == "ds" and result.check == IMBALANCE


def test_imbalance_fails_above_the_threshold_from_service_stats() -> None:
    result = check_imbalance(item(service=stats({"a": 10, "b": 3, "c": 5})), RULES)
    assert summary(result) == (
        FAILED,
        3.333,
        3.0,
        "imbalance ratio 3.33 > 3: largest intent 'a' has 10 examples, smallest 'b' has 3 "
        "(service stats)",
    )


def test_imbalance_with_an_empty_intent_on_the_service() -> None:
    result = check_imbalance(item(service=stats({"a": 10, "b": 0})), RULES)
    assert result.status is FAILED and result.value is None
    assert result.message == "intent 'b' has no examples, so the ratio is unbounded (service stats)"
    assert result.details == ["b"]


def test_imbalance_prefers_the_local_file_when_both_exist() -> None:
    result = check_imbalance(item(dataset(counts(a=4, b=4)), stats({"a": 40, "b": 4})), RULES)
    assert result.status is PASSED and result.value == 1.0


def test_imbalance_skipped_without_any_data() -> None:
    result = check_imbalance(item(), RULES)
    assert summary(result) == (
        SKIPPED,
        None,
        3.0,
        "skipped: no committed file and no service stats for this dataset",
    )


# --- annotation score ------------------------------------------------------------------


def test_annotation_score_passes_from_the_file() -> None:
    data = dataset({"a": [("x", 0.9), ("y", 0.8)], "b": [("z", 1.0)]})
    result = check_annotation_score(item(data), RULES)
    assert summary(result) == (
        PASSED,
        0.9,
        0.8,
        "average annotation score 0.900 >= 0.8 (committed file)",
    )


def test_annotation_score_fails_from_the_service() -> None:
    result = check_annotation_score(item(service=stats({"a": 5}, score=0.71234)), RULES)
    assert summary(result) == (
        FAILED,
        0.7123,
        0.8,
        "average annotation score 0.712 < 0.8 (service stats)",
    )


def test_annotation_score_uses_the_service_when_the_file_has_no_scores() -> None:
    result = check_annotation_score(item(dataset(counts(a=2)), stats({"a": 2}, score=0.95)), RULES)
    assert result.status is PASSED and result.message.endswith("(service stats)")


def test_annotation_score_skipped_when_no_data_has_scores() -> None:
    result = check_annotation_score(item(dataset(counts(a=2)), stats({"a": 2})), RULES)
    assert summary(result) == (SKIPPED, None, 0.8, "skipped: the data carries no annotation scores")
    assert check_annotation_score(item(), RULES).message == (
        "skipped: no committed file and no service stats for this dataset"
    )


# --- min examples ----------------------------------------------------------------------


def test_min_examples_passes() -> None:
    result = check_min_examples(item(dataset(counts(a=5, b=7))), RULES)
    assert summary(result) == (
        PASSED,
        5,
        5,
        "every intent has at least 5 examples (fewest: 5, committed file)",
    )


def test_min_examples_names_the_intents_below() -> None:
    result = check_min_examples(item(service=stats({"a": 9, "b": 2, "c": 4, "d": 4})), RULES)
    assert summary(result) == (
        FAILED,
        2,
        5,
        "3 intents below 5 examples: b, c, d (service stats)",
    )
    assert result.details == ["b: 2", "c: 4", "d: 4"]


def test_min_examples_details_are_capped() -> None:
    many = {f"intent_{i:04d}": 1 for i in range(MAX_DETAILS + 7)}
    result = check_min_examples(item(service=stats(many)), RULES)
    assert len(result.details) == MAX_DETAILS + 1
    assert result.details[-1] == "... and 7 more"
    assert result.message.startswith(f"{MAX_DETAILS + 7} intents below 5 examples: intent_0000, ")
    assert " and " in result.message


# --- service mismatch ------------------------------------------------------------------


def test_service_mismatch_passes_when_identical() -> None:
    local = dataset(counts(a=3, b=2))
    result = check_service_mismatch(item(local, stats({"a": 3, "b": 2})), RULES)
    assert summary(result) == (
        PASSED,
        0,
        0,
        "the service holds the committed data (5 examples in 2 intents)",
    )


def test_service_mismatch_warns_by_default_and_names_intents() -> None:
    local = dataset(counts(a=3, b=2, c=1))
    result = check_service_mismatch(item(local, stats({"a": 3, "b": 4, "d": 1})), RULES)
    assert result.status is WARNING
    assert result.value == 3
    assert result.message == (
        "the service's data differs from the committed file 'data/intents.yaml' in 3 intents: "
        "b, c, d; the service may be training on data that is not in git"
    )
    assert result.details == [
        "b: 2 in the file, 4 on the service",
        "c: 1 in the file, missing on the service",
        "d: 1 on the service, missing in the file",
    ]


def test_service_mismatch_fails_when_configured() -> None:
    rules = ValidationSection(fail_on_service_mismatch=True)
    result = check_service_mismatch(item(dataset(counts(a=3)), stats({"a": 4})), rules)
    assert result.status is FAILED


def test_service_mismatch_in_totals_only() -> None:
    service = DatasetStats(
        dataset_id="ds", example_count=9, intent_count=1, intent_distribution={"a": 3}
    )
    result = check_service_mismatch(item(dataset(counts(a=3)), service), RULES)
    assert result.status is WARNING
    assert result.details == ["example count: 3 in the file, 9 on the service"]
    assert "in the file, 9 on the service; the service may" in result.message


@pytest.mark.parametrize(
    "local,service,message",
    [
        (False, True, "skipped: no committed file (datasets[].path) to compare with"),
        (True, False, "skipped: no service stats to compare with"),
    ],
)
def test_service_mismatch_skipped_with_one_side(local: bool, service: bool, message: str) -> None:
    data = item(dataset(counts(a=1)) if local else None, stats({"a": 1}) if service else None)
    result = check_service_mismatch(data, RULES)
    assert (result.status, result.message) == (SKIPPED, message)


# --- label conflicts -------------------------------------------------------------------


def test_label_conflicts_pass() -> None:
    result = check_label_conflicts([item(dataset({"a": ["hello"], "b": ["bye"]}))], RULES)
    assert summary(result) == (PASSED, 0, 0, "no utterance appears under two intents")


def test_label_conflicts_use_normalised_text_and_list_places() -> None:
    data = dataset({"greet": ["Hello there!", "hi"], "bye": ["hello   THERE", "bye"]})
    result = check_label_conflicts([item(data)], RULES)
    assert summary(result) == (FAILED, 1, 0, "1 utterance appears under more than one intent")
    assert result.details == [
        "'hello there': greet (data/intents.yaml:2), bye (data/intents.yaml:5)"
    ]
    assert result.dataset_id is None


def test_label_conflicts_across_datasets_and_as_warning() -> None:
    first = dataset({"a": ["same text"]}, "one.yaml")
    second = dataset({"b": ["Same text."]}, "two.yaml")
    rules = ValidationSection(fail_on_label_conflicts=False)
    result = check_label_conflicts(
        [item(first, ds="d1"), item(second, ds="d2"), item(ds="d3")], rules
    )
    assert result.status is WARNING
    assert result.message == (
        "1 utterance appears under more than one intent (not checked, no committed file: d3)"
    )
    assert result.details == ["'same text': a (one.yaml:2), b (two.yaml:2)"]


def test_same_utterance_twice_under_one_intent_is_no_conflict() -> None:
    result = check_label_conflicts([item(dataset({"a": ["x", "X"]}))], RULES)
    assert result.status is PASSED


def test_label_conflicts_skipped_with_service_stats_only() -> None:
    result = check_label_conflicts([item(service=stats({"a": 1}))], RULES)
    assert summary(result) == (
        SKIPPED,
        None,
        None,
        "skipped: needs the utterances, and no dataset has a committed file",
    )


# --- holdout leakage -------------------------------------------------------------------


def test_holdout_leakage_passes() -> None:
    holdout = dataset({"a": ["unseen one", "unseen two"]}, "holdout.yaml")
    result = check_holdout_leakage([item(dataset(counts(a=3)))], holdout, RULES)
    assert summary(result) == (
        PASSED,
        0,
        0,
        "none of the 2 holdout utterances is in the training data",
    )


def test_holdout_leakage_fails_and_lists_the_utterances() -> None:
    training = dataset({"a": ["Check my balance", "other"]})
    holdout = dataset({"a": ["check my balance?", "fresh"], "b": ["OTHER"]}, "holdout.yaml")
    result = check_holdout_leakage([item(training)], holdout, RULES)
    assert summary(result) == (
        FAILED,
        2,
        0,
        "2 of 3 holdout utterances are also in the training data, so holdout scores "
        "overstate the model",
    )
    assert result.details == [
        "'check my balance?' (a, holdout.yaml:2)",
        "'OTHER' (b, holdout.yaml:5)",
    ]


def test_holdout_leakage_warning_when_configured() -> None:
    training = dataset({"a": ["dup"]})
    holdout = dataset({"a": ["dup"]}, "holdout.yaml")
    rules = ValidationSection(fail_on_holdout_leakage=False)
    assert check_holdout_leakage([item(training)], holdout, rules).status is WARNING


def test_holdout_leakage_skips() -> None:
    holdout = dataset({"a": ["x"]}, "holdout.yaml")
    no_holdout = check_holdout_leakage([item(dataset(counts(a=1)))], None, RULES)
    assert (no_holdout.status, no_holdout.message) == (
        SKIPPED,
        "skipped: no holdout set configured",
    )
    only_service = check_holdout_leakage([item(service=stats({"a": 1}))], holdout, RULES)
    assert only_service.status is SKIPPED
    assert only_service.message == (
        "skipped: needs the training utterances, and no dataset has a committed file"
    )


# --- run_checks ------------------------------------------------------------------------


def test_run_checks_order_and_blocking() -> None:
    cfg = config(fail_on_label_conflicts=False)
    local = dataset({"a": ["x", "y", "z", "w", "v", "u"], "b": ["x", "q", "r", "s", "t"]})
    results = run_checks(cfg, [item(local, stats({"a": 6, "b": 5}, score=0.5))], None)
    assert [(r.check, r.status) for r in results] == [
        (IMBALANCE, PASSED),
        (ANNOTATION_SCORE, FAILED),
        (MIN_EXAMPLES, PASSED),
        (SERVICE_MISMATCH, PASSED),
        (LABEL_CONFLICTS, WARNING),
        (DUPLICATES, PASSED),
        (HOLDOUT_LEAKAGE, SKIPPED),
    ]
    assert [r.check for r in blocking(results)] == [ANNOTATION_SCORE]


def test_run_checks_validate_mode_without_credentials() -> None:
    """Local files only: every check that needs only the file runs; the rest skip."""
    cfg = config()
    holdout = dataset({"a": ["a example 0"]}, "holdout.yaml")
    results = run_checks(cfg, [item(dataset(counts(a=5, b=5)))], holdout)
    by_check = {r.check: r.status for r in results}
    assert by_check == {
        IMBALANCE: PASSED,
        ANNOTATION_SCORE: SKIPPED,
        MIN_EXAMPLES: PASSED,
        SERVICE_MISMATCH: SKIPPED,
        LABEL_CONFLICTS: PASSED,
        DUPLICATES: PASSED,
        HOLDOUT_LEAKAGE: FAILED,
    }


def test_run_checks_with_service_stats_only_per_dataset() -> None:
    cfg = config()
    inputs = [
        item(service=stats({"a": 5, "b": 5}, score=0.9, ds="d1"), ds="d1"),
        item(service=stats({"a": 50, "b": 1}, ds="d2"), ds="d2"),
    ]
    results = run_checks(cfg, inputs, None)
    per_dataset = [(r.dataset_id, r.check, r.status) for r in results if r.dataset_id]
    assert per_dataset == [
        ("d1", IMBALANCE, PASSED),
        ("d1", ANNOTATION_SCORE, PASSED),
        ("d1", MIN_EXAMPLES, PASSED),
        ("d1", SERVICE_MISMATCH, SKIPPED),
        ("d2", IMBALANCE, FAILED),
        ("d2", ANNOTATION_SCORE, SKIPPED),
        ("d2", MIN_EXAMPLES, FAILED),
        ("d2", SERVICE_MISMATCH, SKIPPED),
    ]
    # Every result is a valid, serialisable record.
    for result in results:
        assert CheckResult.model_validate_json(result.model_dump_json()) == result


def test_run_checks_scales_linearly_on_a_larger_set() -> None:
    """20,000 examples with a planted conflict and a planted leak: found exactly once."""
    spec = {f"intent_{i}": [f"utterance {i} {j}" for j in range(100)] for i in range(200)}
    spec["intent_1"].append("utterance 0 0")
    local = dataset(spec)
    holdout = dataset({"intent_5": ["Utterance 5 5", "never seen"]}, "holdout.yaml")
    results = {r.check: r for r in run_checks(config(), [item(local)], holdout)}
    assert results[LABEL_CONFLICTS].value == 1
    assert results[HOLDOUT_LEAKAGE].value == 1


# --- duplicate examples and where each finding is ------------------------------------------


def test_duplicates_are_exact_repeats_within_one_intent_across_files() -> None:
    first = dataset({"a": ["Hello", "hello", "Hello?", "bye"]}, "one.yaml")
    second = dataset({"a": ["Hello"], "b": ["Hello"]}, "two.yaml")
    result = check_duplicates([item(first, ds="d1"), item(second, ds="d2")], RULES)
    # Case and punctuation make another example; the same text again under `a` does not,
    # and "Hello" under `b` is a conflict, not a duplicate.
    assert summary(result) == (
        FAILED,
        1,
        0,
        "1 duplicate example (the same text twice under one intent) > 0",
    )
    assert result.details == ["'Hello' (a): two.yaml:2, first at one.yaml:2"]
    assert [(found.file, found.line, found.text) for found in result.locations] == [
        ("two.yaml", 2, "'Hello' is already under a at one.yaml:2")
    ]


def test_duplicates_pass_up_to_the_threshold_and_skip_without_files() -> None:
    data = dataset({"a": ["x", "x", "y"]})
    rules = ValidationSection(max_duplicate_examples=1)
    assert summary(check_duplicates([item(data)], rules))[:3] == (PASSED, 1, 1)
    assert summary(check_duplicates([item(dataset(counts(a=3)))], RULES)) == (
        PASSED,
        0,
        0,
        "no duplicate example",
    )
    assert check_duplicates([item(service=stats({"a": 1}))], RULES).status is SKIPPED


def test_a_conflict_is_located_at_its_later_intent_and_names_the_others() -> None:
    data = dataset({"greet": ["Hello there!"], "bye": ["hello there"], "help": ["HELLO THERE"]})
    [location] = check_label_conflicts([item(data)], RULES).locations
    assert (location.file, location.line) == ("data/intents.yaml", 6)
    assert location.text == (
        "'HELLO THERE' is under help here and under greet at data/intents.yaml:2, "
        "bye at data/intents.yaml:4"
    )


def test_locations_are_capped_while_the_value_counts_them_all() -> None:
    data = dataset({"a": ["same"] * (MAX_DETAILS + 6)})
    result = check_duplicates([item(data)], RULES)
    assert result.value == MAX_DETAILS + 5
    assert len(result.locations) == MAX_DETAILS
    assert result.details[-1] == "... and 5 more"

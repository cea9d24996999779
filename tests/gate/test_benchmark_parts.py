"""The decision-quality benchmark's building blocks: data transforms and the verdict words."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

import pytest

from ci_trainer import gate as gating
from ci_trainer.config.model import ChampionGate
from ci_trainer.datasets import Example
from ci_trainer.decision import Decision
from ci_trainer.result import GateRule, Mode, RunResult

from .test_scenarios import load_benchmark

benchmark: Any = load_benchmark()
NOW = datetime(2026, 11, 26, 21, 0, tzinfo=timezone.utc)


def corpus() -> list[Example]:
    sizes = {"big": 30, "mid": 12, "small": 3}
    return [Example(text=f"{i} {n}", intent=i) for i, size in sizes.items() for n in range(size)]


def test_stratified_subset_keeps_every_intent() -> None:
    subset = benchmark.stratified_subset(corpus(), 1 / 3, seed=1)
    assert Counter(e.intent for e in subset) == {"big": 10, "mid": 4, "small": 2}
    assert subset == benchmark.stratified_subset(corpus(), 1 / 3, seed=1)


def test_corrupt_intent_relabels_only_that_intent() -> None:
    data = corpus()
    intent, into = benchmark.pick_corruption(data)
    assert (intent, into) == ("big", "mid")
    corrupted = benchmark.corrupt_intent(data, intent, into)
    assert Counter(e.intent for e in corrupted) == {"mid": 42, "small": 3}
    assert [e.text for e in corrupted] == [e.text for e in data]


def test_label_noise_changes_about_the_rate_and_never_keeps_a_changed_label() -> None:
    data = [Example(text=str(n), intent=f"i{n % 5}") for n in range(2000)]
    noisy = benchmark.label_noise(data, 0.2, seed=3)
    changed = sum(a.intent != b.intent for a, b in zip(data, noisy, strict=True))
    assert 0.17 * len(data) < changed < 0.23 * len(data)
    assert {e.intent for e in noisy} == {e.intent for e in data}


def run_result(decision: Decision, failed: list[str], verdict_gold: list[str]) -> RunResult:
    gold = verdict_gold
    comparison = gating.compare_champion(
        gold,
        list(gold),
        list(gold),
        ChampionGate(bootstrap_samples=200),
        holdout_path="h.csv",
        holdout_sha256="0" * 64,
        candidate_version_id="c",
        production_version_id="p",
    )
    rules = [GateRule(rule=name, passed=False, message=name) for name in failed]
    return RunResult(
        run_uuid="u",
        tool_version="t",
        backend="cognigy-v1",
        mode=Mode.TRAIN,
        decision=decision,
        reason="r",
        started_at=NOW,
        finished_at=NOW,
        duration_seconds=0.0,
        gate=[*rules, GateRule(rule="min_f1", passed=True, message="ok")],
        champion=comparison,
    )


@pytest.mark.parametrize(
    ("decision", "failed", "word"),
    [
        (Decision.APPROVED, [], "promote"),
        (Decision.PROMOTED, [], "promote"),
        (Decision.REJECTED, ["champion.margin"], "hold"),
        (Decision.REJECTED, ["min_f1", "champion.margin"], "reject"),
        (Decision.REJECTED, ["min_precision"], "reject"),
        (Decision.FAILED, [], "failed"),
    ],
)
def test_outcome_words(decision: Decision, failed: list[str], word: str) -> None:
    result = run_result(decision, failed, ["a", "b"] * 10)
    assert result.champion is not None and result.champion.verdict == "no significant change"
    scenario = benchmark.Scenario("s", benchmark.NOT_WORSE, "m", [])
    outcome = benchmark.Outcome(scenario, result, gating.decide([]), None, 0.0)
    assert outcome.ours == word
    assert outcome.correct(word) is (word in ("promote", "hold"))

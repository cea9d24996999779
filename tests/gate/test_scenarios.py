"""The four decision-quality scenarios of issue 6, end to end: emulator, pipeline, gate.

Uses the benchmark's own scenario builder (benchmarks/decision_quality.py) on a small
synthetic corpus, so the test checks the same construction the benchmark table reports.
The right answer is known by construction; each test asserts our gate's decision.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ci_trainer.datasets import Example

REPO_ROOT = Path(__file__).resolve().parents[2]
INTENTS = [f"intent_{letter}" for letter in "abcdefgh"]


def load_benchmark() -> ModuleType:
    path = REPO_ROOT / "benchmarks" / "decision_quality.py"
    spec = importlib.util.spec_from_file_location("decision_quality", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def synthetic_corpus(seed: int = 0) -> tuple[list[Example], list[Example]]:
    """8 intents, each with 30 keywords of its own; an utterance holds 3 of them, one
    keyword of another intent and 4 shared fillers. A third of the 60 training examples
    per intent leaves many keywords unseen, so more data is a real improvement."""
    rng = random.Random(seed)
    vocabulary = {intent: [pseudo_word(rng) for _ in range(30)] for intent in INTENTS}
    fillers = [pseudo_word(rng) for _ in range(30)]

    def utterance(intent: str) -> str:
        other = rng.choice([i for i in INTENTS if i != intent])
        words = [*rng.sample(vocabulary[intent], 3), rng.choice(vocabulary[other])]
        words += rng.sample(fillers, 4)
        rng.shuffle(words)
        return " ".join(words)

    train = [Example(text=utterance(i), intent=i) for i in INTENTS for _ in range(60)]
    holdout = [Example(text=utterance(i), intent=i) for i in INTENTS for _ in range(40)]
    return train, holdout


# The benchmark module is loaded from its file, so its Outcome objects are typed Any here.
@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    benchmark = load_benchmark()
    train, holdout = synthetic_corpus()
    holdout_path = benchmark.write_csv(tmp_path_factory.mktemp("holdout") / "h.csv", holdout)
    results: list[Any] = benchmark.run_scenarios(train, holdout_path, parallel=2)
    return results


def find(outcomes: list[Any], name: str) -> Any:
    (match,) = [o for o in outcomes if o.scenario.name == name]
    return match


def test_more_data_is_promoted(outcomes: list[Any]) -> None:
    outcome = find(outcomes, "more data")
    assert outcome.ours == "promote", outcome.result.reason
    champion = outcome.result.champion
    assert champion.verdict == "better"
    assert champion.ci_low > 0


def test_one_corrupted_intent_is_rejected_by_name(outcomes: list[Any]) -> None:
    (outcome,) = [o for o in outcomes if o.scenario.corrupted]
    corrupted = outcome.scenario.corrupted
    assert outcome.ours == "reject"
    result = outcome.result
    assert result.champion.intents_worse == [corrupted]
    (rule,) = [r for r in result.gate if r.rule == "champion.per_intent"]
    assert not rule.passed
    assert f"'{corrupted}' recall" in rule.message
    assert f"'{corrupted}'" in result.champion.sentence


def test_label_noise_is_rejected(outcomes: list[Any]) -> None:
    outcome = find(outcomes, "20% label noise")
    assert outcome.ours == "reject", outcome.result.reason
    assert outcome.result.champion.verdict == "worse"


def test_another_seed_is_never_called_a_regression(outcomes: list[Any]) -> None:
    outcome = find(outcomes, "another seed")
    assert outcome.result.champion.verdict == "no significant change"
    assert outcome.ours in ("promote", "hold")


def test_benchmark_table_lists_every_scenario(outcomes: list[Any]) -> None:
    benchmark = sys.modules["decision_quality"]
    text = benchmark.table(outcomes)
    lines = text.splitlines()
    assert lines[0].startswith("| Scenario | Right answer | Our gate |")
    assert len(lines) == 2 + 4
    assert all("✅" in line.split("|")[3] for line in lines[2:])  # our gate right every time

"""The per-intent precision test (issue 16, item 4): a candidate that turns one intent
into a catch-all is caught, by that test alone, on a constructed holdout."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from jsonschema import Draft202012Validator

from ci_trainer import audit, intent_tests
from ci_trainer import gate as gating
from ci_trainer.config.model import ChampionGate
from ci_trainer.report import build_outputs, render_summary
from ci_trainer.result import ChampionComparison

from .test_gate import compare
from .test_verdict_output import run_result

INTENTS = [f"intent_{i:02d}" for i in range(40)]
CATCH_ALL = "intent_00"
PER_INTENT = 30


def catch_all_holdout() -> tuple[list[str], list[str | None], list[str | None]]:
    """40 intents x 30 utterances. The candidate takes one utterance of each of 30 other
    intents into intent_00 (its recall stays 1.0, its precision halves) and fixes 30
    production errors spread one per intent elsewhere: overall the two are even."""
    gold = [intent for intent in INTENTS for _ in range(PER_INTENT)]
    candidate: list[str | None] = list(gold)
    production: list[str | None] = list(gold)
    for number, intent in enumerate(INTENTS[1:31]):
        start = INTENTS.index(intent) * PER_INTENT
        candidate[start] = CATCH_ALL  # swallowed by the catch-all
        # Production's own error on the next utterance, to the intent after it: each
        # wrong intent gets one false positive, too few to test.
        production[start + 1] = INTENTS[1 + (number + 1) % 39]
    return gold, candidate, production


@pytest.fixture(scope="module")
def catch_all() -> ChampionComparison:
    gold, candidate, production = catch_all_holdout()
    return compare(gold, candidate, production)


def test_a_catch_all_is_caught_only_by_the_precision_test(catch_all: ChampionComparison) -> None:
    c = catch_all
    # What every other test sees: nothing.
    assert (c.mcnemar_candidate_only, c.mcnemar_production_only) == (30, 30)
    assert c.mcnemar_p == 1.0
    assert c.intents_worse == []
    assert c.ci_low > -c.margin  # the macro-F1 difference is within the margin
    (recall,) = [x for x in c.intent_changes if x.intent == CATCH_ALL]
    assert (recall.production_recall, recall.candidate_recall) == (1.0, 1.0)
    # What the precision test sees: intent_00 predicted 60 times, 30 of them wrongly.
    (precision,) = [x for x in c.precision_changes if x.intent == CATCH_ALL]
    assert (precision.production_predicted, precision.candidate_predicted) == (30, 60)
    assert (precision.production_precision, precision.candidate_precision) == (1.0, 0.5)
    assert (precision.candidate_only_wrong, precision.production_only_wrong) == (30, 0)
    assert precision.p_value == pytest.approx(2.0**-29)  # all 30 differences one way
    assert precision.significant
    assert c.precision_worse == [CATCH_ALL]
    assert c.verdict == "worse"
    assert c.sentence.startswith(
        "The candidate is worse: 1 intent significantly lower in precision: "
        "'intent_00' precision 1.000 -> 0.500 (predicted 30 -> 60 times, Holm-adjusted p < 0.001)"
    )

    rules = gating.champion_rules(c, ChampionGate())
    assert [rule.rule for rule in rules if not rule.passed] == ["champion.per_intent_precision"]
    outcome = gating.decide(rules, c)
    assert not outcome.passed
    assert outcome.reason.startswith(
        "significant precision drop (Holm, alpha 0.05) among 40 intents predicted for >= 10 "
        "holdout utterances (Holm with the recall tests): 'intent_00' precision 1.000 -> 0.500"
    )


def test_the_catch_all_reaches_the_summary_outputs_and_audit_record(
    catch_all: ChampionComparison,
) -> None:
    result = run_result(catch_all)
    summary = render_summary(result)
    assert "| champion.per\\_intent\\_precision |" in summary
    assert "- Intents significantly lower in precision: intent\\_00; higher: " in summary
    metrics = build_outputs(result)["metrics"]
    assert '"precision_worse":["intent_00"]' in metrics
    record = audit.build_record(result, governance_tags=[])
    record["prevHash"] = audit.GENESIS_HASH
    record["hash"] = audit.record_hash(record)
    Draft202012Validator(audit.load_schema()).validate(record)
    assert audit.schema_problem(record) is None
    (change,) = [x for x in record["champion"]["precisionChanges"] if x["intent"] == CATCH_ALL]
    assert (change["candidatePredicted"], change["candidateOnlyWrong"]) == (60, 30)


def test_a_relabelled_intent_fails_recall_first_and_names_the_intent_it_went_to() -> None:
    gold = [intent for intent in INTENTS[:5] for _ in range(20)]
    candidate = [INTENTS[1] if g == INTENTS[0] else g for g in gold]
    c = compare(gold, candidate, list(gold))
    assert (c.intents_worse, c.precision_worse) == ([INTENTS[0]], [INTENTS[1]])
    # The candidate no longer predicts intent_00: no precision, so not tested (its
    # recall test says what happened).
    (gone,) = [x for x in c.precision_changes if x.intent == INTENTS[0]]
    assert (gone.candidate_precision, gone.p_adjusted, gone.significant) == (None, 1.0, False)
    rules = gating.champion_rules(c, ChampionGate())
    assert gating.decide(rules).reason.startswith("significant recall drop")
    assert "'intent_01' precision 1.000 -> 0.500 (predicted 20 -> 40 times" in c.sentence


def test_more_true_positives_for_the_same_false_ones_is_not_a_precision_loss() -> None:
    # The candidate finds 10 more of intent_00 (recall up) and keeps production's false
    # positives: precision rises, and a test of false positives alone would see no change.
    gold = [intent for intent in INTENTS[:4] for _ in range(20)]
    production = [None if i < 10 else g for i, g in enumerate(gold)]
    production[25] = production[45] = INTENTS[0]
    candidate = list(production)
    candidate[:10] = gold[:10]
    c = compare(gold, candidate, production)
    (change,) = [x for x in c.precision_changes if x.intent == INTENTS[0]]
    assert (change.production_precision, change.candidate_precision) == (10 / 12, 20 / 22)
    assert c.precision_worse == []


def brute_force_p(counts: tuple[int, ...]) -> float:
    """The same exact test by enumerating every assignment of the differing utterances."""
    shared_right, shared_wrong, cand_right, cand_wrong, prod_right, prod_wrong = counts
    right, wrong = cand_right + prod_right, cand_wrong + prod_wrong

    def difference(r: int, w: int) -> float:
        def precision(tp: int, n: int) -> float:
            return tp / n if n else 0.0

        cand = precision(shared_right + r, shared_right + shared_wrong + r + w)
        prod = precision(
            shared_right + right - r, shared_right + shared_wrong + right - r + wrong - w
        )
        return cand - prod

    observed = abs(difference(cand_right, cand_wrong))
    total = sum(
        math.comb(right, r) * math.comb(wrong, w)
        for r, w in itertools.product(range(right + 1), range(wrong + 1))
        if abs(difference(r, w)) >= observed - 1e-12
    )
    return float(total / 2 ** (right + wrong))


def test_the_precision_p_value_equals_full_enumeration() -> None:
    rng = random.Random(16)
    for _ in range(200):
        counts = tuple(rng.randint(0, 7) for _ in range(6))
        gold, candidate, production = utterances(counts)
        (change, _), *_ = intent_tests.intent_precision_changes(
            gold, candidate, production, min_support=0
        )
        assert change.p_value == pytest.approx(brute_force_p(counts), abs=1e-12), counts


def utterances(counts: tuple[int, ...]) -> tuple[list[str], list[str | None], list[str | None]]:
    """A holdout whose counts for intent 'a' are `counts` (gold 'b' for the wrong ones)."""
    shared_right, shared_wrong, cand_right, cand_wrong, prod_right, prod_wrong = counts
    rows: list[tuple[str, str | None, str | None]] = [("a", "a", "a")] * shared_right
    rows += [("b", "a", "a")] * shared_wrong
    rows += [("a", "a", None)] * cand_right + [("b", "a", "b")] * cand_wrong
    rows += [("a", None, "a")] * prod_right + [("b", "b", "a")] * prod_wrong
    rows += [("a", None, None), ("b", "b", "b")]  # both labels present in the gold
    gold, candidate, production = (list(column) for column in zip(*rows, strict=True))
    return [str(g) for g in gold], candidate, production


def test_untestable_comparisons_stay_out_of_the_holm_family() -> None:
    # Errors to no intent leave every precision unchanged: those tests cannot reach
    # p < 1, so the recall tests are adjusted over their own 2 intents, not over 4.
    gold = ["a"] * 20 + ["b"] * 20
    production: list[str | None] = list(gold)
    candidate: list[str | None] = [None if i % 20 < 8 else g for i, g in enumerate(gold)]
    recall, precision = intent_tests.intent_changes(gold, candidate, production, min_support=5)
    assert [row.p_adjusted for row in precision] == [1.0, 1.0]
    assert [row.p_adjusted for row in recall] == pytest.approx([2 * 2.0**-7] * 2)

"""The promotion gate: threshold rules, champion/challenger comparison, the decision."""

from __future__ import annotations

import json

import pytest

from ci_trainer import gate as gating
from ci_trainer.backend_types import EvalMetrics, IntentScore
from ci_trainer.config.model import ChampionGate, GateSection, PerIntentGate
from ci_trainer.result import ChampionComparison, GateRule

INTENTS = ["balance", "card_lost", "refund", "transfer", "pin_change"]


def metrics(**values: object) -> EvalMetrics:
    return EvalMetrics.model_validate({"version_id": "v-cand", **values})


def rule_named(rules: list[GateRule], name: str) -> GateRule:
    (found,) = [rule for rule in rules if rule.rule == name]
    return found


# --- thresholds ------------------------------------------------------------------------------


def test_threshold_rules_with_defaults() -> None:
    rules = gating.threshold_rules(GateSection(), metrics(f1=0.812, precision=0.9, recall=0.5))
    assert [rule.rule for rule in rules] == ["min_f1", "min_precision"]  # min_recall is None
    f1, precision = rules
    assert (f1.passed, f1.value, f1.threshold) == (False, 0.812, 0.85)
    assert f1.message == "F1 0.812 < 0.850"
    assert precision.passed
    assert precision.message == "precision 0.900 >= 0.800"


def test_threshold_equal_to_value_passes() -> None:
    (rule,) = gating.threshold_rules(
        GateSection(min_f1=None, min_precision=None, min_recall=0.7), metrics(recall=0.7)
    )
    assert rule.passed
    assert rule.message == "recall 0.700 >= 0.700"


def test_values_close_to_the_threshold_get_enough_decimals() -> None:
    (rule,) = gating.threshold_rules(
        GateSection(min_f1=0.85, min_precision=None), metrics(f1=0.84996)
    )
    assert not rule.passed
    assert rule.message == "F1 0.84996 < 0.85000"
    (rule,) = gating.threshold_rules(GateSection(min_f1=0.85, min_precision=None), metrics(f1=0.85))
    assert rule.message == "F1 0.850 >= 0.850"


def test_unavailable_metric_with_threshold_fails_and_says_so() -> None:
    rules = gating.threshold_rules(GateSection(), metrics(f1=0.9))  # no precision reported
    precision = rule_named(rules, "min_precision")
    assert not precision.passed
    assert precision.value is None
    assert "precision not available" in precision.message
    assert "gate.min_precision: null" in precision.message
    assert not gating.decide(rules).passed


def test_no_thresholds_configured_gives_no_rules() -> None:
    section = GateSection(min_f1=None, min_precision=None, min_recall=None)
    assert gating.threshold_rules(section, metrics()) == []
    outcome = gating.threshold_only_gate(section, metrics())
    assert outcome.passed
    assert "No gate rule" in outcome.reason


def per_intent_section(min_f1: float = 0.7, min_support: int = 5) -> GateSection:
    return GateSection(
        min_f1=None,
        min_precision=None,
        per_intent=PerIntentGate(min_f1=min_f1, min_support=min_support),
    )


def test_per_intent_floor_names_failing_intents_with_enough_support() -> None:
    scores = [
        IntentScore(intent="refund", f1=0.64, support=30),
        IntentScore(intent="card_arrival", f1=0.51, support=12),
        IntentScore(intent="tiny", f1=0.1, support=2),  # below min_support: not judged
        IntentScore(intent="balance", f1=0.95, support=40),
    ]
    (rule,) = gating.threshold_rules(per_intent_section(), metrics(per_intent=scores))
    assert not rule.passed
    assert rule.rule == "per_intent.min_f1"
    assert rule.value == pytest.approx(0.51)
    assert rule.message == (
        "2 of 3 intents with support >= 5 below F1 0.700: 'card_arrival' 0.510, 'refund' 0.640"
        " (1 intent with support < 5 not judged)"
    )
    assert "tiny" not in rule.message


def test_per_intent_floor_passes_and_judges_unknown_support() -> None:
    scores = [
        IntentScore(intent="a", f1=0.8, support=None),
        IntentScore(intent="b", f1=0.75, support=9),
    ]
    (rule,) = gating.threshold_rules(per_intent_section(), metrics(per_intent=scores))
    assert rule.passed
    assert rule.message == "all 2 intents with support >= 5 have F1 >= 0.700"

    scores.append(IntentScore(intent="c", f1=0.2, support=None))
    (rule,) = gating.threshold_rules(per_intent_section(), metrics(per_intent=scores))
    assert not rule.passed
    assert "'c' 0.200" in rule.message


def test_per_intent_floor_without_scores_fails() -> None:
    (rule,) = gating.threshold_rules(per_intent_section(), metrics(per_intent=[]))
    assert not rule.passed
    assert "no per-intent scores" in rule.message

    small = [IntentScore(intent="a", f1=0.9, support=1)]
    (rule,) = gating.threshold_rules(per_intent_section(), metrics(per_intent=small))
    assert not rule.passed
    assert "no intent has support >= 5" in rule.message


def test_per_intent_floor_with_missing_f1_fails() -> None:
    scores = [
        IntentScore(intent="a", f1=None, precision=0.9, support=20),
        IntentScore(intent="b", f1=0.9, support=20),
    ]
    (rule,) = gating.threshold_rules(per_intent_section(), metrics(per_intent=scores))
    assert not rule.passed
    assert rule.message == "F1 not available for 'a'"


# --- champion / challenger -------------------------------------------------------------------


def holdout(per_intent: int = 40) -> list[str]:
    return [intent for intent in INTENTS for _ in range(per_intent)]


def with_errors(gold: list[str], wrong: set[int], label: str = "other") -> list[str | None]:
    return [label if i in wrong else g for i, g in enumerate(gold)]


def compare(
    gold: list[str],
    candidate: list[str | None],
    production: list[str | None],
    champion: ChampionGate | None = None,
) -> ChampionComparison:
    return gating.compare_champion(
        gold,
        candidate,
        production,
        champion or ChampionGate(bootstrap_samples=1000),
        holdout_path="datasets/holdout.yaml",
        holdout_sha256="ab" * 32,
        candidate_version_id="v-cand",
        production_version_id="v-prod",
    )


def test_clearly_better_candidate() -> None:
    gold = holdout()
    production = with_errors(gold, set(range(0, 200, 4)))  # 50 of 200 wrong
    candidate = with_errors(gold, set(range(0, 200, 20)))  # 10 wrong, a subset of those
    c = compare(gold, candidate, production)
    assert c.verdict == "better"
    assert (c.mcnemar_candidate_only, c.mcnemar_production_only) == (40, 0)
    assert c.mcnemar_p < 1e-9
    assert c.ci_low > 0
    assert c.candidate_accuracy == pytest.approx(0.95)
    assert c.production_accuracy == pytest.approx(0.75)
    assert c.n == 200
    assert c.intents_worse == []
    assert c.sentence.startswith("The candidate is better: macro-F1 ")
    assert "on 200 holdout utterances" in c.sentence
    rules = gating.champion_rules(c, ChampionGate())
    assert [r.rule for r in rules] == [
        "champion.per_intent",
        "champion.per_intent_precision",
        "champion.mcnemar",
        "champion.margin",
    ]
    assert all(r.passed for r in rules)


def test_one_collapsed_intent_is_rejected_by_name() -> None:
    gold = holdout()
    production = with_errors(gold, {3, 47, 120})
    refund = {i for i, g in enumerate(gold) if g == "refund"}
    candidate = with_errors(gold, refund | {3}, label="balance")
    c = compare(gold, candidate, production)
    assert c.verdict == "worse"
    assert c.intents_worse == ["refund"]
    (refund_change,) = [x for x in c.intent_changes if x.intent == "refund"]
    assert (refund_change.candidate_recall, refund_change.production_recall) == (0.0, 1.0)
    assert refund_change.significant
    assert "'refund' recall 1.000 -> 0.000" in c.sentence
    rules = gating.champion_rules(c, ChampionGate())
    intent_rule = rule_named(rules, "champion.per_intent")
    assert not intent_rule.passed
    assert "'refund' recall 1.000 -> 0.000" in intent_rule.message
    outcome = gating.decide(rules)
    assert not outcome.passed
    assert len(outcome.reasons) == sum(not r.passed for r in rules)


def test_broadly_worse_candidate_fails_margin_and_mcnemar() -> None:
    gold = holdout()
    production = with_errors(gold, set(range(0, 200, 20)))  # 10 wrong
    candidate = with_errors(gold, set(range(0, 200, 4)))  # 50 wrong
    c = compare(gold, candidate, production)
    assert c.verdict == "worse"
    assert c.ci_high < 0
    rules = gating.champion_rules(c, ChampionGate())
    intents, precision, mcnemar, margin = rules
    assert precision.passed  # the errors are no intent, so no intent's precision fell
    assert not margin.passed
    assert margin.threshold == -0.01
    assert "a loss larger than the 0.010 margin is not ruled out" in margin.message
    assert not mcnemar.passed
    assert mcnemar.message.startswith("McNemar exact test shows a significant loss")
    assert "production right and candidate wrong on 40 utterances, the reverse on 0" in (
        mcnemar.message
    )
    # 8 of 40 per intent lost, in one direction: p = 2/256, Holm over 5 intents = 0.0391.
    assert not intents.passed
    assert c.intents_worse == sorted(INTENTS)
    assert "'balance' recall 0.950 -> 0.750 (Holm-adjusted p = 0.0391)" in intents.message
    outcome = gating.decide(rules)
    # The named intents come first; all five lost the same, so by name, at most five shown.
    assert outcome.reason.startswith(
        "significant recall drop (Holm, alpha 0.05) among 5 intents with >= 10 holdout "
        "examples: 'balance' recall 0.950 -> 0.750"
    )
    assert outcome.reason.endswith("(and 2 more failed rules)")
    assert c.sentence.startswith("The candidate is worse: macro-F1 ")
    assert "; 5 intents significantly worse: 'balance' recall" in c.sentence


def test_same_quality_retrain_is_no_significant_change_and_passes() -> None:
    gold = holdout(per_intent=200)  # 1,000 utterances
    shared = set(range(0, 1000, 10))  # both models miss these
    production = with_errors(gold, shared | set(range(1, 1000, 100)))  # +10 own errors
    candidate = with_errors(gold, shared | set(range(2, 1000, 100)))  # +10 other errors
    c = compare(gold, candidate, production)
    assert c.verdict == "no significant change"
    assert (c.mcnemar_candidate_only, c.mcnemar_production_only) == (10, 10)
    assert c.mcnemar_p == 1.0
    assert "McNemar p = 1 (10 utterances only the candidate got right, 10 only production)" in (
        c.sentence
    )
    assert c.ci_low < 0 < c.ci_high
    assert c.sentence.startswith("No significant change: macro-F1 ")
    outcome = gating.decide(gating.champion_rules(c, ChampionGate()))
    assert outcome.passed, outcome.reason


def test_noisy_holdout_cannot_rule_out_a_loss_beyond_the_margin() -> None:
    # Two models that disagree a lot on a small holdout: no significant change, but the CI
    # reaches below -margin, so non-inferiority is not shown and the gate holds.
    gold = holdout(per_intent=20)
    production = with_errors(gold, set(range(0, 100, 3)))
    candidate = with_errors(gold, set(range(1, 100, 3)))
    c = compare(gold, candidate, production)
    assert c.verdict == "no significant change"
    rules = gating.champion_rules(c, ChampionGate())
    assert [(r.rule, r.passed) for r in rules] == [
        ("champion.per_intent", True),
        ("champion.per_intent_precision", True),
        ("champion.mcnemar", True),
        ("champion.margin", False),
    ]


def test_comparison_fields_and_serialisation() -> None:
    gold = holdout(per_intent=12)
    production = with_errors(gold, {0, 1})
    candidate = with_errors(gold, {2}, label=None)  # type: ignore[arg-type]
    champion = ChampionGate(bootstrap_samples=500, seed=7, margin=0.02, min_support=15)
    c = compare(gold, candidate, production, champion)
    assert (c.bootstrap_samples, c.seed, c.margin, c.confidence) == (500, 7, 0.02, 0.95)
    assert (c.alpha, c.min_support) == (0.05, 15)
    assert c.intent_changes == []  # 12 examples per intent < 15
    assert (c.holdout_path, c.candidate_version_id, c.production_version_id) == (
        "datasets/holdout.yaml",
        "v-cand",
        "v-prod",
    )
    record = json.loads(c.model_dump_json())
    assert record["verdict"] == c.verdict
    again = compare(gold, candidate, production, champion)
    assert again == c  # seeded: the same inputs give the same record
    rule = rule_named(gating.champion_rules(c, champion), "champion.per_intent")
    assert rule.passed
    assert "no intent has >= 15 holdout examples" in rule.message


def test_champion_rules_disabled() -> None:
    gold = holdout(per_intent=10)
    c = compare(gold, list(gold), list(gold))
    assert gating.champion_rules(c, ChampionGate(enabled=False)) == []


def test_compare_rejects_mismatched_predictions() -> None:
    with pytest.raises(ValueError, match="items for"):
        compare(["a", "b"], ["a"], ["a", "b"])


# --- decision and the comparison gates ---------------------------------------------------------


def test_decide_reports_first_failure_and_all_reasons() -> None:
    rules = [
        GateRule(rule="min_f1", passed=True, value=0.9, threshold=0.85, message="F1 ok"),
        GateRule(rule="min_precision", passed=False, message="precision bad"),
        GateRule(rule="champion.margin", passed=False, message="margin bad"),
        GateRule(rule="champion.mcnemar", passed=False, message="mcnemar bad"),
    ]
    outcome = gating.decide(rules)
    assert not outcome.passed
    assert outcome.reason == "precision bad (and 2 more failed rules)"
    assert outcome.reasons == ["precision bad", "margin bad", "mcnemar bad"]


def test_decide_passes_when_every_rule_passes() -> None:
    rules = [
        GateRule(rule="min_f1", passed=True, message="F1 0.900 >= 0.850"),
        GateRule(rule="champion.margin", passed=True, message="margin fine"),
    ]
    outcome = gating.decide(rules)
    assert outcome.passed
    assert outcome.reason == "All 2 gate rules passed (min_f1, champion.margin)."
    assert outcome.reasons == ["F1 0.900 >= 0.850", "margin fine"]


def test_raw_delta_gate_calls_any_drop_a_regression() -> None:
    down = gating.raw_delta_gate(0.848, 0.851)
    assert not down.passed
    assert down.reason == "macro-F1 change -0.003 < +0.000"
    assert gating.raw_delta_gate(0.851, 0.851).passed
    assert not gating.raw_delta_gate(0.86, 0.851, min_delta=0.01).passed


def test_threshold_only_gate() -> None:
    outcome = gating.threshold_only_gate(GateSection(), metrics(f1=0.9, precision=0.7))
    assert not outcome.passed
    assert outcome.reason == "precision 0.700 < 0.800"


def test_intent_loss_hidden_by_gains_elsewhere_is_still_worse() -> None:
    # 20 intents x 20 examples. The candidate fixes 12 production errors spread over other
    # intents and loses 12 examples of one intent: overall a wash, one intent broken.
    intents = [f"intent_{i:02d}" for i in range(20)]
    gold = [intent for intent in intents for _ in range(20)]
    spread = set(range(25, 400, 30))  # one example in a few other intents, 13 positions
    fixed = sorted(i for i in spread if gold[i] != "intent_00")[:12]
    production = with_errors(gold, set(fixed), label="intent_19")
    broken = {i for i, g in enumerate(gold) if g == "intent_00"}
    candidate = with_errors(gold, set(sorted(broken)[:12]), label="intent_01")
    c = compare(gold, candidate, production)
    assert (c.mcnemar_candidate_only, c.mcnemar_production_only) == (12, 12)
    assert c.mcnemar_p == 1.0
    assert c.intents_worse == ["intent_00"]
    assert c.verdict == "worse"
    assert c.sentence.startswith(
        "The candidate is worse on 1 intent: 'intent_00' recall 1.000 -> 0.400 "
    )
    assert "; overall macro-F1 " in c.sentence
    outcome = gating.decide(gating.champion_rules(c, ChampionGate()))
    assert not outcome.passed
    assert outcome.reason.startswith("significant recall drop")
    assert "'intent_00' recall 1.000 -> 0.400" in outcome.reason


def test_messages_name_at_most_five_intents() -> None:
    gold = holdout(per_intent=30) + [f"extra_{i}" for i in range(3) for _ in range(30)]
    production: list[str | None] = list(gold)
    candidate = with_errors(gold, {i for i in range(len(gold)) if i % 30 < 20}, label="none")
    c = compare(gold, candidate, production)
    assert len(c.intents_worse) == 8
    rule = gating.champion_rules(c, ChampionGate())[0]
    assert rule.message.endswith(" and 3 more")
    assert rule.message.count("Holm-adjusted") == 5


def test_a_pass_with_a_comparison_says_how_the_candidate_compares() -> None:
    gold = holdout(per_intent=10)
    comparison = compare(gold, list(gold), list(gold))
    rules = [GateRule(rule="min_f1", passed=True, message="F1 0.900 >= 0.850")]
    outcome = gating.decide(rules, comparison)
    assert outcome.passed
    assert outcome.reason == (
        "The gate rule passed; against production: no significant change "
        "(holdout macro-F1 1.000 vs 1.000, 95% CI of the difference +0.000 to +0.000)."
    )

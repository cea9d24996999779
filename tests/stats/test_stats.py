"""Statistics of the champion/challenger gate against hand-computed and reference values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from sklearn.metrics import f1_score

from ci_trainer import stats

NONE_LABEL = "<none>"  # sklearn cannot mix None with strings; None is wrong either way


def sklearn_macro_f1(gold: list[str], predicted: list[str | None]) -> float:
    filled = [NONE_LABEL if label is None else label for label in predicted]
    return float(f1_score(gold, filled, average="macro", labels=sorted(set(gold)), zero_division=0))


# --- McNemar exact ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (1, 9, 0.021484375),  # 2 * (1 + 10) / 1024
        (9, 1, 0.021484375),
        (0, 0, 1.0),
        (5, 5, 1.0),
        (0, 5, 0.0625),  # 2 / 32
        (0, 1, 1.0),
        (2, 8, 2 * 56 / 1024),  # 2 * (1 + 10 + 45) / 1024
        (3, 17, float(2 * Fraction(1 + 20 + 190 + 1140, 2**20))),
    ],
)
def test_mcnemar_exact_two_sided_small_tables(b: int, c: int, expected: float) -> None:
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_one_sided_tails() -> None:
    # Candidate right on 1, production right on 9: "less" asks whether the candidate is worse.
    assert stats.mcnemar_exact(1, 9, "less") == pytest.approx(11 / 1024, rel=1e-12)
    assert stats.mcnemar_exact(1, 9, "greater") == pytest.approx(1 - 1 / 1024, rel=1e-12)
    assert stats.mcnemar_exact(9, 1, "greater") == pytest.approx(11 / 1024, rel=1e-12)


def test_mcnemar_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        stats.mcnemar_exact(-1, 3)
    with pytest.raises(ValueError, match="alternative"):
        stats.mcnemar_exact(1, 3, "both")  # type: ignore[arg-type]


@pytest.mark.parametrize(("b", "c"), [(4000, 4300), (1200, 1300), (700, 900), (30, 2000)])
def test_mcnemar_large_tables_match_scipy(b: int, c: int) -> None:
    expected = binomtest(min(b, c), b + c, 0.5).pvalue
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_very_large_tables_are_fast_and_accurate() -> None:
    # b + c = 1,000,000: the tail sum stops after O(sqrt(n)) terms; lgamma of numbers
    # this large carries about 1e-10 relative error into the p-value.
    expected = binomtest(499_000, 1_000_000, 0.5).pvalue
    assert stats.mcnemar_exact(499_000, 501_000) == pytest.approx(expected, rel=1e-7)


def test_binomial_upper_half_uses_the_complement() -> None:
    for n, k in [(1500, 750), (1500, 900), (4001, 2000), (4001, 2001)]:
        exact = stats._binomial_half_cdf_exact(k, n)
        assert stats._binomial_half_cdf_log(k, n) == pytest.approx(exact, rel=1e-9)


def test_binomial_log_path_matches_exact_integers() -> None:
    for n, k in [(1025, 480), (1500, 700), (3000, 1400), (2049, 1024), (5000, 10)]:
        exact = stats._binomial_half_cdf_exact(k, n)
        assert stats._binomial_half_cdf_log(k, n) == pytest.approx(exact, rel=1e-9)


def test_mcnemar_extreme_imbalance_underflows_to_zero_without_error() -> None:
    p = stats.mcnemar_exact(0, 5000)
    assert 0.0 <= p < 1e-300
    assert stats.mcnemar_exact(40_000, 40_000) == 1.0


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_properties(b: int, c: int) -> None:
    two_sided = stats.mcnemar_exact(b, c)
    assert two_sided == stats.mcnemar_exact(c, b)
    assert 0.0 < two_sided <= 1.0
    less, greater = stats.mcnemar_exact(b, c, "less"), stats.mcnemar_exact(b, c, "greater")
    assert two_sided == pytest.approx(min(1.0, 2 * min(less, greater)))
    # The two tails overlap in P(X = b), so together they are at least 1.
    assert less + greater >= 1.0 - 1e-12


def test_binomial_half_cdf_edges() -> None:
    assert stats.binomial_half_cdf(-1, 5) == 0.0
    assert stats.binomial_half_cdf(5, 5) == 1.0
    assert stats.binomial_half_cdf(0, 0) == 1.0
    assert stats.binomial_half_cdf(2, 4) == pytest.approx(11 / 16)


# --- Holm -------------------------------------------------------------------------------


def test_holm_on_known_vector() -> None:
    # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> raised to 0.06.
    adjusted = stats.holm_adjust([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_textbook_vector_and_cap() -> None:
    assert stats.holm_adjust([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx(
        [0.05, 0.08, 0.09, 0.09, 0.09]
    )
    assert stats.holm_adjust([0.5, 0.9]) == [1.0, 1.0]
    assert stats.holm_adjust([]) == []
    assert stats.holm_adjust([0.2]) == [0.2]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_holm_is_between_raw_and_bonferroni_and_keeps_order(p_values: list[float]) -> None:
    adjusted = stats.holm_adjust(p_values)
    m = len(p_values)
    for raw, adj in zip(p_values, adjusted, strict=True):
        assert raw <= adj + 1e-15
        assert adj <= min(1.0, m * raw) + 1e-15
    for i in range(m):
        for j in range(m):
            if p_values[i] < p_values[j]:
                assert adjusted[i] <= adjusted[j]


# --- macro-F1 and accuracy --------------------------------------------------------------


def test_macro_f1_hand_computed() -> None:
    gold = ["a", "a", "b", "b", "c"]
    predicted: list[str | None] = ["a", "b", "b", "b", None]
    # a: 2*1/(2+1) = 2/3; b: 2*2/(2+3) = 4/5; c: never right = 0.
    expected = (2 / 3 + 4 / 5 + 0) / 3
    assert stats.macro_f1(gold, predicted) == pytest.approx(expected)
    assert stats.macro_f1(gold, predicted) == pytest.approx(sklearn_macro_f1(gold, predicted))
    assert stats.accuracy(gold, predicted) == pytest.approx(3 / 5)


def test_predicted_label_outside_gold_lowers_recall_only() -> None:
    gold = ["a", "a", "b"]
    predicted: list[str | None] = ["a", "z", "z"]
    # a: precision 1, recall 1/2 -> 2/3; b: 0. "z" is not averaged.
    assert stats.macro_f1(gold, predicted) == pytest.approx((2 / 3 + 0) / 2)
    assert stats.macro_f1(gold, predicted) == pytest.approx(sklearn_macro_f1(gold, predicted))


def test_perfect_predictions() -> None:
    gold = ["x", "y", "y", "z"]
    assert stats.macro_f1(gold, gold) == 1.0
    assert stats.accuracy(gold, gold) == 1.0


labels_strategy = st.sampled_from(["a", "b", "c", "d"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(labels_strategy, st.one_of(st.none(), labels_strategy, st.just("zz"))),
        min_size=1,
        max_size=40,
    )
)
def test_macro_f1_matches_sklearn(pairs: list[tuple[str, str | None]]) -> None:
    gold = [g for g, _ in pairs]
    predicted = [p for _, p in pairs]
    assert stats.macro_f1(gold, predicted) == pytest.approx(sklearn_macro_f1(gold, predicted))


def test_lengths_must_match_and_holdout_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="2 items for 3 gold labels"):
        stats.macro_f1(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        stats.accuracy([], [])


# --- percentile interval and paired bootstrap ----------------------------------------------


def test_percentile_interval() -> None:
    values = np.arange(101, dtype=np.float64) / 100
    assert stats.percentile_interval(values, 0.9) == pytest.approx((0.05, 0.95))
    with pytest.raises(ValueError, match="confidence"):
        stats.percentile_interval(values, 1.0)


def test_bootstrap_matches_naive_resampling_with_the_same_draws() -> None:
    rng = np.random.default_rng(7)
    n = 60
    gold = [str(x) for x in rng.integers(0, 4, n)]
    candidate = [g if rng.random() < 0.8 else str(rng.integers(0, 5)) for g in gold]
    production: list[str | None] = [g if rng.random() < 0.7 else None for g in gold]
    samples, seed = 150, 11
    got = stats.bootstrap_macro_f1_differences(
        gold, candidate, production, samples=samples, seed=seed
    )
    # With n * samples below the chunk bound the indices are drawn as one block.
    drawn = np.random.default_rng(seed).integers(0, n, size=(samples, n), dtype=np.int32)
    expected = [
        sklearn_macro_f1([gold[i] for i in row], [candidate[i] for i in row])
        - sklearn_macro_f1([gold[i] for i in row], [production[i] for i in row])
        for row in drawn
    ]
    assert got == pytest.approx(expected, abs=1e-12)


def test_bootstrap_chunking_does_not_change_the_distribution_shape() -> None:
    # 3,000 utterances x 2,000 samples spans several chunks; the result must be sane in
    # every chunk (no zeroed or stale rows).
    rng = np.random.default_rng(3)
    gold = [str(x) for x in rng.integers(0, 10, 3000)]
    candidate = [g if rng.random() < 0.85 else "other" for g in gold]
    production = [g if rng.random() < 0.85 else "other" for g in gold]
    diffs = stats.bootstrap_macro_f1_differences(gold, candidate, production, samples=2000)
    assert diffs.shape == (2000,)
    assert np.all(np.abs(diffs) < 0.1)
    first, last = diffs[:500], diffs[-500:]
    assert abs(first.std() - last.std()) < 0.3 * first.std()
    assert len(np.unique(diffs)) > 1500


def test_identical_models_have_a_zero_interval() -> None:
    gold = ["a", "b", "c", "a", "b"] * 10
    predicted = ["a", "b", "a", "a", "c"] * 10
    interval = stats.paired_bootstrap_macro_f1(gold, predicted, predicted, samples=300)
    assert (interval.difference, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(5)
    gold = [str(x) for x in rng.integers(0, 3, 80)]
    candidate = [g if rng.random() < 0.8 else "x" for g in gold]
    production = [g if rng.random() < 0.8 else "x" for g in gold]
    one = stats.paired_bootstrap_macro_f1(gold, candidate, production, samples=300, seed=1)
    same = stats.paired_bootstrap_macro_f1(gold, candidate, production, samples=300, seed=1)
    other = stats.paired_bootstrap_macro_f1(gold, candidate, production, samples=300, seed=2)
    assert one == same
    assert (one.low, one.high) != (other.low, other.high)
    assert one.difference == pytest.approx(
        stats.macro_f1(gold, candidate) - stats.macro_f1(gold, production)
    )


def test_pairing_detects_a_small_consistent_improvement() -> None:
    # The candidate fixes 20 of 600 utterances and breaks none. Unpaired, two samples of
    # about 0.80 F1 on 600 items each have a CI of roughly +-0.045; paired, every
    # resample sees the same fixes, so the interval stays above zero.
    rng = np.random.default_rng(9)
    gold = [str(x) for x in rng.integers(0, 6, 600)]
    production = [g if rng.random() < 0.8 else "wrong" for g in gold]
    wrong = [i for i, p in enumerate(production) if p == "wrong"][:20]
    candidate = list(production)
    for i in wrong:
        candidate[i] = gold[i]
    interval = stats.paired_bootstrap_macro_f1(gold, candidate, production, samples=1000)
    assert interval.low > 0.0
    assert interval.high - interval.low < 0.04


def _population(size: int, rng: np.random.Generator) -> tuple[list[str], list[str], list[str]]:
    """A finite population of paired predictions whose true macro-F1 difference is known."""
    classes = ["a", "b", "c", "d"]
    gold = rng.choice(classes, size=size, p=[0.4, 0.3, 0.2, 0.1])
    shared = rng.random(size) < 0.6  # correlated errors, as two real models have
    common = rng.random(size) < 0.82
    candidate_right = np.where(shared, common, rng.random(size) < 0.88)
    production_right = np.where(shared, common, rng.random(size) < 0.76)
    wrong_guess = rng.choice(classes, size=size)
    candidate = np.where(candidate_right, gold, np.where(wrong_guess == gold, "x", wrong_guess))
    production = np.where(production_right, gold, np.where(wrong_guess == gold, "y", wrong_guess))
    return [str(g) for g in gold], [str(c) for c in candidate], [str(p) for p in production]


def test_bootstrap_ci_covers_the_true_difference_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(2024)
    gold, candidate, production = _population(50_000, rng)
    truth = stats.macro_f1(gold, candidate) - stats.macro_f1(gold, production)
    reps, n = 300, 400
    covered, half_widths, observed = 0, [], []
    for rep in range(reps):
        rows = rng.integers(0, len(gold), n)
        interval = stats.paired_bootstrap_macro_f1(
            [gold[i] for i in rows],
            [candidate[i] for i in rows],
            [production[i] for i in rows],
            samples=400,
            seed=rep,
        )
        covered += interval.low <= truth <= interval.high
        half_widths.append((interval.high - interval.low) / 2)
        observed.append(interval.difference)
    coverage = covered / reps
    # Nominal 0.95; with 300 reps the standard error of the rate is about 0.013.
    assert 0.91 <= coverage <= 0.985, coverage
    # Not covering by being too wide: the half-width matches 1.96 x the real spread.
    spread = 1.96 * float(np.std(observed))
    assert float(np.mean(half_widths)) == pytest.approx(spread, rel=0.2)


# --- discordant pairs and per-intent recall -------------------------------------------------


def test_discordant_pairs() -> None:
    gold = ["a", "a", "b", "b", "c"]
    candidate: list[str | None] = ["a", "a", "a", "b", None]
    production: list[str | None] = ["b", "a", "b", "a", "c"]
    # candidate only: items 0 and 3; production only: items 2 and 4
    assert stats.discordant_pairs(gold, candidate, production) == (2, 2)


def test_intent_recall_changes_with_min_support_and_holm() -> None:
    gold = ["drop"] * 12 + ["same"] * 12 + ["rare"] * 3
    production = list(gold)
    candidate: list[str | None] = ["drop"] * 2 + ["same"] * 10 + ["same"] * 12 + [None] * 3
    changes = stats.intent_recall_changes(gold, candidate, production, min_support=10)
    assert [c.intent for c in changes] == ["drop", "same"]  # "rare" has 3 < 10 examples
    drop, same = changes
    assert (drop.support, drop.candidate_only, drop.production_only) == (12, 0, 10)
    assert drop.candidate_recall == pytest.approx(2 / 12)
    assert drop.production_recall == 1.0
    assert drop.recall_change == pytest.approx(2 / 12 - 1)
    assert drop.p_value == pytest.approx(2 / 1024)
    assert drop.p_adjusted == pytest.approx(2 * 2 / 1024)  # Holm over 2 tested intents
    assert (same.p_value, same.p_adjusted) == (1.0, 1.0)


def test_intent_recall_changes_none_tested() -> None:
    assert stats.intent_recall_changes(["a", "b"], ["a", "a"], ["b", "b"], min_support=5) == []


def test_mcnemar_p_is_math_consistent_with_binomial_formula() -> None:
    # P(X <= 3) for Bin(12, 1/2) = (1 + 12 + 66 + 220) / 4096
    assert stats.binomial_half_cdf(3, 12) == pytest.approx(299 / 4096)
    assert math.isclose(stats.mcnemar_exact(3, 9), 2 * 299 / 4096)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(labels_strategy, st.one_of(st.none(), labels_strategy), labels_strategy),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 2**32 - 1),
)
def test_bootstrap_symmetry_and_label_names_do_not_matter(
    rows: list[tuple[str, str | None, str]], seed: int
) -> None:
    gold = [g for g, _, _ in rows]
    candidate = [c for _, c, _ in rows]
    production: list[str | None] = [p for _, _, p in rows]
    forward = stats.bootstrap_macro_f1_differences(
        gold, candidate, production, samples=50, seed=seed
    )
    swapped = stats.bootstrap_macro_f1_differences(
        gold, production, candidate, samples=50, seed=seed
    )
    assert np.allclose(forward, -swapped, atol=1e-12)
    rename = {"a": "z1", "b": "y2", "c": "x3", "d": "w4"}
    renamed = stats.bootstrap_macro_f1_differences(
        [rename[g] for g in gold],
        [None if c is None else rename[c] for c in candidate],
        [None if p is None else rename[p] for p in production],
        samples=50,
        seed=seed,
    )
    assert np.allclose(forward, renamed, atol=1e-12)

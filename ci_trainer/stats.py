"""Statistics for the champion/challenger gate: our own numpy code, no scipy at run time.

All functions take gold labels and predicted labels as plain sequences of strings; a
prediction may be None (the service gave no intent), which counts as wrong.

Macro-F1 averages the per-class F1 over the labels that occur in the gold labels. A
prediction of a label that is not among them (an intent the holdout does not contain,
or None) is a false negative for the gold class and a false positive for a class that
is not averaged: it lowers that gold class's recall and no averaged precision. This is
`sklearn.metrics.f1_score(gold, pred, average="macro", labels=sorted(set(gold)))`.
Per class, F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (support + predicted count), which is
0 when TP is 0 (also when the class was never predicted).

The paired bootstrap draws the same utterance indices for both models in each resample,
so the interval reflects the models' correlated errors on one holdout set, not two
independent samples. Within a resample, macro-F1 averages over the gold labels present in
that resample (a rare intent may be missing from it), the same definition as above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
Alternative = Literal["two-sided", "less", "greater"]

DEFAULT_BOOTSTRAP_SAMPLES = 2000
# Bounds the (resamples x utterances) index block drawn at once to 1e6 int32 (4 MB), so
# memory stays small whatever B and n are; larger blocks measured no faster.
_INDICES_PER_CHUNK = 1_000_000
# Below this many discordant pairs the binomial tail is summed exactly in integers.
_EXACT_BINOMIAL_LIMIT = 1024
# A binomial term this far (in log) below the largest one adds nothing a double can hold.
_NEGLIGIBLE_LOG_TERM = -40.0


@dataclass(frozen=True)
class EncodedLabels:
    """Gold and predicted labels as integer codes.

    `labels[i]` is the gold label with code i; code `len(labels)` stands for every
    prediction that is not a gold label (including None).
    """

    labels: tuple[str, ...]
    gold: IntArray
    predictions: tuple[IntArray, ...]

    @property
    def other_code(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class BootstrapInterval:
    """The observed macro-F1 difference (candidate - production) and its percentile CI."""

    difference: float
    low: float
    high: float
    confidence: float
    samples: int
    seed: int


@dataclass(frozen=True)
class IntentRecallChange:
    """Recall of one gold intent under both models, with its paired exact test."""

    intent: str
    support: int
    candidate_recall: float
    production_recall: float
    candidate_only: int
    production_only: int
    p_value: float
    p_adjusted: float

    @property
    def recall_change(self) -> float:
        return self.candidate_recall - self.production_recall


def encode_labels(gold: Sequence[str], *predictions: Sequence[str | None]) -> EncodedLabels:
    """Integer codes for gold labels and for each model's predictions of the same items."""
    if not gold:
        msg = "no gold labels: the holdout set is empty"
        raise ValueError(msg)
    for number, predicted in enumerate(predictions, start=1):
        if len(predicted) != len(gold):
            msg = f"prediction list {number} has {len(predicted)} items for {len(gold)} gold labels"
            raise ValueError(msg)
    labels = tuple(sorted(set(gold)))
    code_of = {label: code for code, label in enumerate(labels)}
    other = len(labels)
    gold_codes = np.fromiter((code_of[label] for label in gold), dtype=np.int64, count=len(gold))
    predicted_codes = tuple(
        np.fromiter(
            (other if label is None else code_of.get(label, other) for label in predicted),
            dtype=np.int64,
            count=len(gold),
        )
        for predicted in predictions
    )
    return EncodedLabels(labels=labels, gold=gold_codes, predictions=predicted_codes)


def _macro_f1_from_counts(tp: FloatArray, support: FloatArray, predicted: FloatArray) -> FloatArray:
    """Macro-F1 along the last axis from per-class counts; classes without support are left out."""
    present = support > 0
    denominator = np.where(present, support + predicted, 1.0)
    per_class = np.where(present, 2.0 * tp / denominator, 0.0)
    result: FloatArray = per_class.sum(axis=-1) / present.sum(axis=-1)
    return result


def _class_counts(
    gold: IntArray, predicted: IntArray, classes: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(true positives, support, predicted count) per gold class."""
    width = classes + 1  # the extra bin collects predictions outside the gold labels
    correct = np.where(predicted == gold, gold, classes)
    tp = np.bincount(correct, minlength=width)[:classes]
    support = np.bincount(gold, minlength=width)[:classes]
    count = np.bincount(predicted, minlength=width)[:classes]
    return tp.astype(np.float64), support.astype(np.float64), count.astype(np.float64)


def macro_f1(gold: Sequence[str], predicted: Sequence[str | None]) -> float:
    """Macro-F1 over the gold labels (see the module docstring for unseen predictions)."""
    encoded = encode_labels(gold, predicted)
    tp, support, count = _class_counts(encoded.gold, encoded.predictions[0], len(encoded.labels))
    return float(_macro_f1_from_counts(tp, support, count))


def accuracy(gold: Sequence[str], predicted: Sequence[str | None]) -> float:
    """Share of items whose prediction equals the gold label (None is wrong)."""
    encoded = encode_labels(gold, predicted)
    return float(np.mean(encoded.gold == encoded.predictions[0]))


def percentile_interval(values: FloatArray, confidence: float) -> tuple[float, float]:
    """Equal-tailed percentile interval holding `confidence` of `values`."""
    if not 0.0 < confidence < 1.0:
        msg = f"confidence must be between 0 and 1, got {confidence}"
        raise ValueError(msg)
    if values.size == 0:
        msg = "no values to take an interval of"
        raise ValueError(msg)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


class _ClassGrouping:
    """Sums columns of a (resamples x patterns) count matrix by a class per pattern.

    Patterns of class `classes` (predictions outside the gold labels) are dropped; a
    class with no pattern sums to 0.
    """

    def __init__(self, pattern_class: IntArray, classes: int) -> None:
        self._pattern_class = pattern_class
        self._classes = classes

    def sums(self, counts: IntArray) -> FloatArray:
        rows = counts.shape[0]
        width = self._classes + 1
        bins = (np.arange(rows)[:, None] * width + self._pattern_class[None, :]).ravel()
        summed = np.bincount(bins, weights=counts.ravel(), minlength=rows * width)
        return summed.astype(np.float64, copy=False).reshape(rows, width)[:, : self._classes]


class _ModelCounts:
    """One model's per-class true positives and predicted counts from pattern counts."""

    def __init__(self, pattern_gold: IntArray, pattern_predicted: IntArray, classes: int) -> None:
        correct = np.where(pattern_predicted == pattern_gold, pattern_gold, classes)
        self._true_positives = _ClassGrouping(correct, classes)
        self._predicted = _ClassGrouping(pattern_predicted, classes)

    def macro_f1(self, counts: IntArray, support: FloatArray) -> FloatArray:
        """Macro-F1 of each row of `counts`, given the rows' per-class gold support."""
        tp = self._true_positives.sums(counts)
        return _macro_f1_from_counts(tp, support, self._predicted.sums(counts))


class _PairedPatterns:
    """The holdout reduced to distinct (gold, candidate, production) patterns.

    A resample's macro-F1 of either model depends only on how many times it drew each
    pattern, so the per-resample work grows with the number of distinct patterns (at
    most a few thousand), not with the number of utterances.
    """

    def __init__(self, encoded: EncodedLabels) -> None:
        classes = len(encoded.labels)
        size = encoded.other_code + 1
        gold, candidate, production = encoded.gold, *encoded.predictions
        codes = (gold * size + candidate) * size + production
        patterns, inverse = np.unique(codes, return_inverse=True)
        self.count = len(patterns)
        self.index: NDArray[np.int32] = inverse.astype(np.int32).ravel()
        pattern_gold = patterns // (size * size)
        self._support = _ClassGrouping(pattern_gold, classes)
        self._candidate = _ModelCounts(pattern_gold, (patterns // size) % size, classes)
        self._production = _ModelCounts(pattern_gold, patterns % size, classes)

    def differences(self, counts: IntArray) -> FloatArray:
        """Macro-F1(candidate) - macro-F1(production) for each row of pattern counts."""
        support = self._support.sums(counts)
        candidate = self._candidate.macro_f1(counts, support)
        production = self._production.macro_f1(counts, support)
        result: FloatArray = candidate - production
        return result


def bootstrap_macro_f1_differences(
    gold: Sequence[str],
    candidate: Sequence[str | None],
    production: Sequence[str | None],
    *,
    samples: int = DEFAULT_BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> FloatArray:
    """Macro-F1(candidate) - macro-F1(production) in each of `samples` paired resamples."""
    if samples < 1:
        msg = f"bootstrap samples must be at least 1, got {samples}"
        raise ValueError(msg)
    patterns = _PairedPatterns(encode_labels(gold, candidate, production))
    rng = np.random.default_rng(seed)
    n = patterns.index.size
    chunk = max(1, min(samples, _INDICES_PER_CHUNK // n))
    differences = np.empty(samples, dtype=np.float64)
    for start in range(0, samples, chunk):
        rows = min(chunk, samples - start)
        # The same drawn indices serve both models: this is what makes the bootstrap paired.
        drawn = rng.integers(0, n, size=(rows, n), dtype=np.int32)
        bins = patterns.index[drawn] + (np.arange(rows, dtype=np.int32) * patterns.count)[:, None]
        counts = np.bincount(bins.ravel(), minlength=rows * patterns.count)
        differences[start : start + rows] = patterns.differences(
            counts.reshape(rows, patterns.count)
        )
    return differences


def paired_bootstrap_macro_f1(
    gold: Sequence[str],
    candidate: Sequence[str | None],
    production: Sequence[str | None],
    *,
    samples: int = DEFAULT_BOOTSTRAP_SAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """Observed macro-F1 difference (candidate - production) and its paired percentile CI."""
    differences = bootstrap_macro_f1_differences(
        gold, candidate, production, samples=samples, seed=seed
    )
    low, high = percentile_interval(differences, confidence)
    observed = macro_f1(gold, candidate) - macro_f1(gold, production)
    return BootstrapInterval(
        difference=observed,
        low=low,
        high=high,
        confidence=confidence,
        samples=samples,
        seed=seed,
    )


def discordant_pairs(
    gold: Sequence[str],
    candidate: Sequence[str | None],
    production: Sequence[str | None],
) -> tuple[int, int]:
    """(candidate right & production wrong, production right & candidate wrong)."""
    encoded = encode_labels(gold, candidate, production)
    candidate_right = encoded.predictions[0] == encoded.gold
    production_right = encoded.predictions[1] == encoded.gold
    return (
        int(np.sum(candidate_right & ~production_right)),
        int(np.sum(production_right & ~candidate_right)),
    )


def binomial_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exact for small n and stable for large n."""
    if n < 0:
        msg = f"n must be >= 0, got {n}"
        raise ValueError(msg)
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if n <= _EXACT_BINOMIAL_LIMIT:
        return _binomial_half_cdf_exact(k, n)
    return _binomial_half_cdf_log(k, n)


def _binomial_half_cdf_exact(k: int, n: int) -> float:
    # Integer sum, one rounding at the end; Python ints hold 2**1024 without overflow.
    return sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)


def _binomial_half_cdf_log(k: int, n: int) -> float:
    """Sum of C(n, i) / 2**n for i <= k in log space, so neither factor overflows.

    Below the mode the terms shrink as i falls, so the sum walks down from k and stops
    once a term is e**-40 (about 4e-18) of the largest, past double precision: O(sqrt n)
    terms instead of k. Above the mode the lower tail is 1 minus the upper one.
    """
    if 2 * k >= n:
        return 1.0 - _binomial_half_cdf_log(n - k - 1, n)
    log_norm = math.lgamma(n + 1) - n * math.log(2.0)
    peak = log_norm - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    total = 0.0  # in units of exp(peak)
    for i in range(k, -1, -1):
        relative = log_norm - math.lgamma(i + 1) - math.lgamma(n - i + 1) - peak
        if relative < _NEGLIGIBLE_LOG_TERM:
            break
        total += math.exp(relative)
    return min(1.0, math.exp(peak) * total)


def mcnemar_exact(
    candidate_only: int, production_only: int, alternative: Alternative = "two-sided"
) -> float:
    """Exact McNemar p-value from the discordant pairs b (candidate_only), c (production_only).

    Under "no difference" b ~ Binomial(b + c, 1/2). two-sided: min(1, 2 P(X <= min(b, c)));
    "less" tests that the candidate is worse (P(X <= b)); "greater" that it is better
    (P(X >= b) = P(X <= c)).
    """
    b, c = candidate_only, production_only
    if b < 0 or c < 0:
        msg = f"discordant counts must be >= 0, got {b} and {c}"
        raise ValueError(msg)
    n = b + c
    if alternative == "two-sided":
        return min(1.0, 2.0 * binomial_half_cdf(min(b, c), n))
    if alternative == "less":
        return binomial_half_cdf(b, n)
    if alternative == "greater":
        return binomial_half_cdf(c, n)
    msg = f"alternative must be two-sided, less or greater, got {alternative!r}"
    raise ValueError(msg)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest (0-based) of m is multiplied by (m - i), capped
    at 1, and made non-decreasing so a smaller raw p never gets a larger adjusted one.
    """
    m = len(p_values)
    adjusted = [0.0] * m
    running_max = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running_max = max(running_max, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running_max
    return adjusted


def intent_recall_changes(
    gold: Sequence[str],
    candidate: Sequence[str | None],
    production: Sequence[str | None],
    *,
    min_support: int,
) -> list[IntentRecallChange]:
    """Per gold intent with at least `min_support` items: recall of both models, exact
    McNemar on that intent's items, Holm-adjusted across the intents tested.

    On one intent's items a model is right exactly when it predicts that intent, so the
    paired test compares the two recalls. Intents are returned in label order.
    """
    encoded = encode_labels(gold, candidate, production)
    candidate_right = encoded.predictions[0] == encoded.gold
    production_right = encoded.predictions[1] == encoded.gold
    rows: list[tuple[str, int, float, float, int, int, float]] = []
    for code, intent in enumerate(encoded.labels):
        members = encoded.gold == code
        support = int(members.sum())
        if support < min_support:
            continue
        cand, prod = candidate_right[members], production_right[members]
        b, c = int(np.sum(cand & ~prod)), int(np.sum(prod & ~cand))
        rows.append(
            (intent, support, float(cand.mean()), float(prod.mean()), b, c, mcnemar_exact(b, c))
        )
    adjusted = holm_adjust([row[-1] for row in rows])
    return [
        IntentRecallChange(*row, p_adjusted=p_adj)
        for row, p_adj in zip(rows, adjusted, strict=True)
    ]

"""The champion gate's per-intent tests: recall and precision, Holm-adjusted together.

Recall of intent i is about the utterances whose gold label is i; `stats` tests it with
the exact McNemar test on those utterances. Precision of i is about the utterances a
model *predicted* as i, and the two models' sets differ, so McNemar does not apply as it
is. Both tests here rest on the same null hypothesis, the one exact McNemar is the
randomisation test of: on every utterance the two models' predictions are exchangeable,
so, given the utterances on which they differ, each difference falls to either model
with probability 1/2 (McNemar 1947; Agresti, Categorical Data Analysis, ch. 11). For
precision the differing utterances are those exactly one model predicted as i: the ones
whose gold label is i (that model's extra true positives) and the others (its extra false
positives). Utterances both models predicted as i count the same for both. Under the
null the candidate's share of each kind is Binomial(count, 1/2), independently, and the
p-value is the exact probability of a precision difference at least as large as the one
observed, either way. This is the exact counterpart of the paired comparison of positive
predictive values of Leisenring, Alonzo and Pepe (Biometrics 56:345-351, 2000), who give
an asymptotic score test for the same question.

A model that never predicted i has no precision for it (None). The comparison is then
not tested: the recall test already covers an intent a model stopped predicting. Within
the null distribution, an assignment that leaves one model without a prediction of i
counts as no difference. Precision is tested for every holdout intent that either model
predicted for at least `min_support` utterances: a catch-all intent qualifies by its
predictions even when it has few examples of its own.

Holm's correction runs over the recall and the precision tests together. A test that
cannot reach p < 1 whatever the data (McNemar with fewer than 2 discordant pairs, a
precision difference that every reassignment leaves the same) is left out of the family,
as Tarone (Biometrics 46:515-522, 1990) showed one may for discrete tests; its adjusted
p-value is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ci_trainer import stats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# A binomial term this far (in log) below the mode's adds nothing a double can hold, so the
# null distribution is summed over a window of about 9 standard deviations each side.
_NEGLIGIBLE_LOG_TERM = -40.0
# Precision differences closer than this are the same value (float rounding, not data).
_TIE = 1e-12


@dataclass(frozen=True)
class IntentPrecisionChange:
    """Precision of one intent under both models, with its paired exact test."""

    intent: str
    candidate_predicted: int  # holdout utterances the candidate predicted as this intent
    production_predicted: int
    candidate_precision: float | None  # None: the model never predicted this intent
    production_precision: float | None
    candidate_only_wrong: int  # predicted as this intent by the candidate alone, wrongly
    production_only_wrong: int  # by production alone, wrongly
    p_value: float
    p_adjusted: float

    @property
    def precision_change(self) -> float | None:
        if self.candidate_precision is None or self.production_precision is None:
            return None
        return self.candidate_precision - self.production_precision


@dataclass(frozen=True)
class _PrecisionCounts:
    """One intent's counts over the utterances either model predicted as it."""

    shared_right: int  # both predicted it, and it is the gold label
    shared_wrong: int  # both predicted it, wrongly
    candidate_right: int  # only the candidate predicted it, rightly
    candidate_wrong: int
    production_right: int
    production_wrong: int

    @property
    def union(self) -> int:
        return (
            self.shared_right
            + self.shared_wrong
            + self.candidate_right
            + self.candidate_wrong
            + self.production_right
            + self.production_wrong
        )


def _differences(counts: _PrecisionCounts, right: IntArray, wrong: IntArray) -> FloatArray:
    """Candidate - production precision when the candidate holds `right` of the differing
    true positives and `wrong` of the differing false positives (broadcast)."""
    c = counts
    all_right = c.candidate_right + c.production_right
    all_wrong = c.candidate_wrong + c.production_wrong
    candidate_tp = (c.shared_right + right).astype(np.float64)
    candidate_n = candidate_tp + c.shared_wrong + wrong
    production_tp = (c.shared_right + all_right - right).astype(np.float64)
    production_n = production_tp + c.shared_wrong + all_wrong - wrong
    defined = (candidate_n > 0) & (production_n > 0)
    difference = candidate_tp / np.maximum(candidate_n, 1) - production_tp / np.maximum(
        production_n, 1
    )
    result: FloatArray = np.where(defined, difference, 0.0)
    return result


def _half_binomial(n: int) -> tuple[IntArray, FloatArray]:
    """The values of Binomial(n, 1/2) that carry any probability a double holds, and theirs."""
    reach = math.sqrt(-_NEGLIGIBLE_LOG_TERM * n / 2.0) + 1.0  # log ratio ~ -2 (x - n/2)^2 / n
    low, high = max(0, math.floor(n / 2 - reach)), min(n, math.ceil(n / 2 + reach))
    values = np.arange(low, high + 1, dtype=np.int64)
    log_norm = math.lgamma(n + 1) - n * math.log(2.0)
    logs = [log_norm - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in range(low, high + 1)]
    return values, np.exp(np.array(logs, dtype=np.float64))


def _precision_test(counts: _PrecisionCounts) -> tuple[float, bool]:
    """(two-sided exact p-value, whether the test can reach p < 1: both precisions are
    defined and some reassignment changes the difference)."""
    right, right_p = _half_binomial(counts.candidate_right + counts.production_right)
    wrong, wrong_p = _half_binomial(counts.candidate_wrong + counts.production_wrong)
    grid = _differences(counts, right[:, None], wrong[None, :])
    observed = _differences(
        counts,
        np.array(counts.candidate_right, dtype=np.int64),
        np.array(counts.candidate_wrong, dtype=np.int64),
    )
    c = counts
    shared = c.shared_right + c.shared_wrong
    defined = shared + c.candidate_right + c.candidate_wrong > 0
    defined = defined and shared + c.production_right + c.production_wrong > 0
    varies = bool(np.ptp(grid) > _TIE) or abs(float(observed) - float(grid.flat[0])) > _TIE
    extreme = np.abs(grid) >= abs(float(observed)) - _TIE
    probability = float(np.sum(np.outer(right_p, wrong_p)[extreme]))
    return min(1.0, probability), defined and varies


def _counts(encoded: stats.EncodedLabels, code: int) -> _PrecisionCounts:
    gold = encoded.gold == code
    candidate, production = (predicted == code for predicted in encoded.predictions)
    both, only_candidate, only_production = (
        candidate & production,
        candidate & ~production,
        production & ~candidate,
    )

    def split(members: NDArray[np.bool_]) -> tuple[int, int]:
        return int(np.sum(members & gold)), int(np.sum(members & ~gold))

    return _PrecisionCounts(*split(both), *split(only_candidate), *split(only_production))


def _precision_row(intent: str, counts: _PrecisionCounts) -> tuple[IntentPrecisionChange, bool]:
    c = counts
    candidate_n = c.shared_right + c.shared_wrong + c.candidate_right + c.candidate_wrong
    production_n = c.shared_right + c.shared_wrong + c.production_right + c.production_wrong
    p_value, testable = _precision_test(c)
    change = IntentPrecisionChange(
        intent=intent,
        candidate_predicted=candidate_n,
        production_predicted=production_n,
        candidate_precision=(c.shared_right + c.candidate_right) / candidate_n
        if candidate_n
        else None,
        production_precision=(c.shared_right + c.production_right) / production_n
        if production_n
        else None,
        candidate_only_wrong=c.candidate_wrong,
        production_only_wrong=c.production_wrong,
        p_value=p_value,
        p_adjusted=1.0,
    )
    return change, testable


def intent_precision_changes(
    gold: Sequence[str],
    candidate: Sequence[str | None],
    production: Sequence[str | None],
    *,
    min_support: int,
) -> list[tuple[IntentPrecisionChange, bool]]:
    """Per holdout intent predicted for >= `min_support` utterances by either model: its
    precision under both models and the exact p-value (not yet adjusted), with whether
    the test can reach p < 1. Intents in label order."""
    encoded = stats.encode_labels(gold, candidate, production)
    rows = []
    for code, intent in enumerate(encoded.labels):
        counts = _counts(encoded, code)
        if counts.union >= min_support:
            rows.append(_precision_row(intent, counts))
    return rows


def _family_adjust(p_values: Sequence[float], testable: Sequence[bool]) -> list[float]:
    """Holm over the testable p-values; an untestable one keeps 1."""
    chosen = [index for index, flag in enumerate(testable) if flag]
    adjusted = [1.0] * len(p_values)
    for index, value in zip(chosen, stats.holm_adjust([p_values[i] for i in chosen]), strict=True):
        adjusted[index] = value
    return adjusted


def intent_changes(
    gold: Sequence[str],
    candidate: Sequence[str | None],
    production: Sequence[str | None],
    *,
    min_support: int,
) -> tuple[list[stats.IntentRecallChange], list[IntentPrecisionChange]]:
    """The per-intent recall and precision tests, Holm-adjusted as one family."""
    recall = stats.intent_recall_changes(gold, candidate, production, min_support=min_support)
    precision = intent_precision_changes(gold, candidate, production, min_support=min_support)
    p_values = [row.p_value for row in recall] + [row.p_value for row, _ in precision]
    testable = [row.candidate_only + row.production_only >= 2 for row in recall]
    testable += [flag for _, flag in precision]
    adjusted = _family_adjust(p_values, testable)
    recall_adjusted = adjusted[: len(recall)]
    precision_adjusted = adjusted[len(recall) :]
    return (
        [replace(row, p_adjusted=p) for row, p in zip(recall, recall_adjusted, strict=True)],
        [
            replace(row, p_adjusted=p)
            for (row, _), p in zip(precision, precision_adjusted, strict=True)
        ],
    )

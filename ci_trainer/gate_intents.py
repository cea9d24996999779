"""The champion gate's per-intent rules: recall and precision, one Holm family.

A candidate can break one intent without moving the macro figures: by no longer
recognising it (its recall drops, the test on that intent's own examples shows it), or
by turning it into a catch-all that swallows utterances of many others, a few each (its
precision drops; no other intent's recall need move enough to show). The two rules
below name those intents; the tests are in `ci_trainer.intent_tests`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ci_trainer import intent_tests, stats
from ci_trainer.config.model import ChampionGate
from ci_trainer.result import GateRule, IntentChange, PrecisionChange

INTENTS_NAMED = 5  # a message names at most this many intents, the largest changes first


def score(value: float) -> str:
    return f"{value:.3f}"


def p_text(value: float) -> str:
    # Three significant digits, so a p just under alpha never prints as alpha (0.0498).
    return "p < 0.001" if value < 0.001 else f"p = {value:.3g}"


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def intent_changes(
    gold: list[str],
    candidate: list[str | None],
    production: list[str | None],
    champion: ChampionGate,
) -> tuple[list[IntentChange], list[PrecisionChange]]:
    """Every tested intent's recall and precision change, with significance at alpha."""
    recall, precision = intent_tests.intent_changes(
        gold, candidate, production, min_support=champion.min_support
    )
    return (
        [_recall_change(change, champion.alpha) for change in recall],
        [_precision_change(change, champion.alpha) for change in precision],
    )


def _recall_change(change: stats.IntentRecallChange, alpha: float) -> IntentChange:
    return IntentChange(
        intent=change.intent,
        support=change.support,
        candidate_recall=change.candidate_recall,
        production_recall=change.production_recall,
        candidate_only=change.candidate_only,
        production_only=change.production_only,
        p_value=change.p_value,
        p_adjusted=change.p_adjusted,
        # A significant test with equal recall cannot happen (it needs discordant pairs
        # in one direction), so significance always comes with a direction.
        significant=change.p_adjusted < alpha,
    )


def _precision_change(change: intent_tests.IntentPrecisionChange, alpha: float) -> PrecisionChange:
    return PrecisionChange(
        intent=change.intent,
        candidate_predicted=change.candidate_predicted,
        production_predicted=change.production_predicted,
        candidate_precision=change.candidate_precision,
        production_precision=change.production_precision,
        candidate_only_wrong=change.candidate_only_wrong,
        production_only_wrong=change.production_only_wrong,
        p_value=change.p_value,
        p_adjusted=change.p_adjusted,
        # As for recall: the observed difference is non-zero whenever p < 1.
        significant=change.p_adjusted < alpha,
    )


def recall_dropped(change: IntentChange) -> bool:
    return change.candidate_recall < change.production_recall


def _precision(value: float | None) -> float:
    # Only a tested comparison is named, and a tested one has both precisions.
    return 0.0 if value is None else value


def precision_dropped(change: PrecisionChange) -> bool:
    return _precision(change.candidate_precision) < _precision(change.production_precision)


def _named(shown: list[str], total: int) -> str:
    hidden = total - len(shown)
    return ", ".join(shown) + (f" and {hidden} more" if hidden > 0 else "")


def recall_clause(changes: Sequence[IntentChange], names: Sequence[str]) -> str:
    """The named intents' recall change, largest change first, at most a few of them."""
    chosen = sorted(
        (change for change in changes if change.intent in set(names)),
        key=lambda change: (
            -abs(change.candidate_recall - change.production_recall),
            change.intent,
        ),
    )
    shown = [
        f"'{change.intent}' recall {score(change.production_recall)} -> "
        f"{score(change.candidate_recall)} (Holm-adjusted {p_text(change.p_adjusted)})"
        for change in chosen[:INTENTS_NAMED]
    ]
    return _named(shown, len(chosen))


def precision_clause(changes: Sequence[PrecisionChange], names: Sequence[str]) -> str:
    """The named intents' precision change and how often each model predicted them."""
    chosen = sorted(
        (change for change in changes if change.intent in set(names)),
        key=lambda change: (
            -abs(_precision(change.candidate_precision) - _precision(change.production_precision)),
            change.intent,
        ),
    )
    shown = [
        f"'{change.intent}' precision {score(_precision(change.production_precision))} -> "
        f"{score(_precision(change.candidate_precision))} (predicted {change.production_predicted} -> "
        f"{change.candidate_predicted} times, Holm-adjusted {p_text(change.p_adjusted)})"
        for change in chosen[:INTENTS_NAMED]
    ]
    return _named(shown, len(chosen))


def recall_rule(
    changes: Sequence[IntentChange], worse: Sequence[str], champion: ChampionGate
) -> GateRule:
    tested = len(changes)
    scope = f"{count(tested, 'intent')} with >= {champion.min_support} holdout examples"
    if worse:
        message = (
            f"significant recall drop (Holm, alpha {champion.alpha}) among {scope}: "
            f"{recall_clause(changes, worse)}"
        )
    elif tested:
        message = f"no significant recall drop among {scope}"
    else:
        message = (
            f"no intent has >= {champion.min_support} holdout examples, so none was tested "
            "(add holdout examples or lower gate.champion.min_support)"
        )
    return GateRule(
        rule="champion.per_intent",
        passed=not worse,
        value=float(len(worse)),
        threshold=0.0,
        message=message,
    )


def precision_rule(
    changes: Sequence[PrecisionChange], worse: Sequence[str], champion: ChampionGate
) -> GateRule:
    tested = len(changes)
    scope = (
        f"{count(tested, 'intent')} predicted for >= {champion.min_support} holdout "
        "utterances (Holm with the recall tests)"
    )
    if worse:
        message = (
            f"significant precision drop (Holm, alpha {champion.alpha}) among {scope}: "
            f"{precision_clause(changes, worse)}"
        )
    elif tested:
        message = f"no significant precision drop among {scope}"
    else:
        message = (
            f"no intent was predicted for >= {champion.min_support} holdout utterances, so "
            "no precision was tested (add holdout examples or lower gate.champion.min_support)"
        )
    return GateRule(
        rule="champion.per_intent_precision",
        passed=not worse,
        value=float(len(worse)),
        threshold=0.0,
        message=message,
    )

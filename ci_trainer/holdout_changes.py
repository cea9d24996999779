"""The one place that derives what changed on the holdout from its outcomes: the
utterances that flipped, the confusions that grew, and each intent's F1 and recall per
model.

The run calls it on the predictions it just made; `ci-trainer explain` on the outcomes
it reads back from the predictions file. Both hand the result to the same renderer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from ci_trainer.backend_types import Prediction
from ci_trainer.holdout_types import (
    ConfusionChange,
    HoldoutChanges,
    HoldoutOutcome,
    IntentF1,
    IntentFlips,
    IntentRecall,
)


def outcomes_of(
    texts: Sequence[str],
    expected: Sequence[str],
    candidate: Sequence[Prediction],
    production: Sequence[Prediction],
    flagged: Collection[str] = (),
) -> list[HoldoutOutcome]:
    """One outcome per holdout utterance; `flagged` are the intents the gate found
    significantly worse."""
    return [
        HoldoutOutcome(
            text=text,
            expected=gold,
            candidate=mine.intent,
            candidate_score=mine.confidence,
            production=theirs.intent,
            production_score=theirs.confidence,
            flagged=gold in flagged,
        )
        for text, gold, mine, theirs in zip(texts, expected, candidate, production, strict=True)
    ]


def holdout_changes(outcomes: Sequence[HoldoutOutcome]) -> HoldoutChanges:
    flips = _flips(outcomes)
    return HoldoutChanges(
        outcomes=list(outcomes),
        regressed=sum(len(group.regressed) for group in flips),
        fixed=sum(len(group.fixed) for group in flips),
        flips=flips,
        confusions=_confusions(outcomes),
        intent_f1=_intent_f1(outcomes),
        intent_recall=_intent_recall(outcomes),
    )


def _flips(outcomes: Sequence[HoldoutOutcome]) -> list[IntentFlips]:
    by_intent: dict[str, list[HoldoutOutcome]] = {}
    for outcome in outcomes:
        if outcome.flip is not None:
            by_intent.setdefault(outcome.expected, []).append(outcome)
    flagged = {outcome.expected for outcome in outcomes if outcome.flagged}
    groups = [
        IntentFlips(
            intent=intent,
            flagged=intent in flagged,
            regressed=_most_telling([o for o in flipped if o.flip == "regressed"], "candidate"),
            fixed=_most_telling([o for o in flipped if o.flip == "fixed"], "production"),
        )
        for intent, flipped in by_intent.items()
    ]
    groups.sort(key=lambda g: (not g.flagged, -g.net, -len(g.regressed), g.intent))
    return groups


def _most_telling(outcomes: list[HoldoutOutcome], wrong: str) -> list[HoldoutOutcome]:
    """The wrong model's most confident mistakes first (a sure mistake says more than a
    hesitant one); ties keep holdout order (the sort is stable)."""

    def score(outcome: HoldoutOutcome) -> float:
        value = outcome.candidate_score if wrong == "candidate" else outcome.production_score
        return -value if value is not None else 0.0

    return sorted(outcomes, key=score)


def _confusions(outcomes: Sequence[HoldoutOutcome]) -> list[ConfusionChange]:
    candidate = Counter((o.expected, o.candidate) for o in outcomes if o.candidate != o.expected)
    production = Counter((o.expected, o.production) for o in outcomes if o.production != o.expected)
    changes = [
        ConfusionChange(
            expected=expected,
            predicted=predicted,
            production=production[(expected, predicted)],
            candidate=candidate[(expected, predicted)],
        )
        for expected, predicted in candidate.keys() | production.keys()
        if candidate[(expected, predicted)] != production[(expected, predicted)]
    ]
    changes.sort(key=lambda c: (-abs(c.change), -c.candidate, c.expected, c.predicted or ""))
    return changes


def _intent_f1(outcomes: Sequence[HoldoutOutcome]) -> list[IntentF1]:
    """F1 of each gold intent: 2 TP / (support + predicted), per model. Predictions of
    intents the holdout has no example of count against precision only."""
    support = Counter(o.expected for o in outcomes)
    predicted = {
        "candidate": Counter(o.candidate for o in outcomes),
        "production": Counter(o.production for o in outcomes),
    }
    hits = {
        "candidate": Counter(o.expected for o in outcomes if o.candidate == o.expected),
        "production": Counter(o.expected for o in outcomes if o.production == o.expected),
    }

    def f1(model: str, intent: str) -> float:
        return 2 * hits[model][intent] / (support[intent] + predicted[model][intent])

    return [
        IntentF1(
            intent=intent,
            support=support[intent],
            candidate=f1("candidate", intent),
            production=f1("production", intent),
        )
        for intent in sorted(support)
    ]


def _intent_recall(outcomes: Sequence[HoldoutOutcome]) -> list[IntentRecall]:
    """Recall of each gold intent: TP / support, per model (every gold intent, not only
    those the gate tests, so a small intent's change is shown too)."""
    support = Counter(o.expected for o in outcomes)
    candidate = Counter(o.expected for o in outcomes if o.candidate == o.expected)
    production = Counter(o.expected for o in outcomes if o.production == o.expected)
    return [
        IntentRecall(
            intent=intent,
            support=count,
            candidate=candidate[intent] / count,
            production=production[intent] / count,
        )
        for intent, count in sorted(support.items())
    ]

"""The promotion gate: thresholds, champion/challenger, and the one decision from both.

Rules are named after the config keys that set them (`min_f1`, `per_intent.min_f1`,
`champion.margin` ...), so "the rule that failed" points at the line to look at.

Choices a reviewer may want to know:
- A threshold on a metric the service did not report (None) fails: a configured gate
  never passes silently. The message says the figure is not available and how to drop
  the rule.
- Per-intent floors judge only intents with support >= `per_intent.min_support`; an
  intent whose support the service does not report is judged (we cannot show it small).
- Champion/challenger is a non-inferiority test on the committed holdout: the candidate
  passes when the lower bound of the paired bootstrap CI of the macro-F1 difference is
  above -margin, the exact McNemar test shows no significant loss, and no intent with
  enough holdout examples lost recall or precision significantly after Holm's correction
  over both families together (`gate_intents`, `intent_tests`): precision is what a
  candidate loses when it turns one intent into a catch-all. "Significant loss" uses the
  two-sided p-value (the one the summary shows) with production ahead, i.e. a one-sided
  test at alpha/2, matching the two-sided CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ci_trainer import gate_intents, stats
from ci_trainer.backend_types import EvalMetrics, IntentScore
from ci_trainer.config.model import ChampionGate, GateSection, PerIntentGate
from ci_trainer.gate_intents import count as _count
from ci_trainer.gate_intents import p_text as _p
from ci_trainer.gate_intents import score as _score
from ci_trainer.result import ChampionComparison, GateRule

BETTER = "better"
WORSE = "worse"
NO_CHANGE = "no significant change"
# The `verdict` output: the verdict, with "no significant change" split in two by the
# margin (a loss beyond it ruled out, or not: then the candidate is held, not proven worse).
CONCLUSIONS = {BETTER: "better", WORSE: "worse", NO_CHANGE: "no-significant-change"}
INCONCLUSIVE = "inconclusive"
MARGIN_RULE = "champion.margin"


@dataclass(frozen=True)
class GateOutcome:
    """The gate's answer: passed or not, the reason that matters first, and all reasons."""

    passed: bool
    reason: str
    reasons: list[str] = field(default_factory=list)
    held: bool = False  # failed only because a loss beyond the margin is not ruled out


# --- formatting ---------------------------------------------------------------------------


def _signed(value: float) -> str:
    return f"{value:+.3f}"


def _distinct(value: float, threshold: float, *, signed: bool = False) -> tuple[str, str]:
    """Both numbers with 3 decimals, or more when 3 would print them equal (0.8499 < 0.850)."""
    sign = "+" if signed else ""
    for decimals in range(3, 7):
        shown = f"{value:{sign}.{decimals}f}", f"{threshold:{sign}.{decimals}f}"
        if shown[0] != shown[1] or value == threshold:
            break
    return shown


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


# --- thresholds -----------------------------------------------------------------------------


def threshold_rules(gate: GateSection, metrics: EvalMetrics) -> list[GateRule]:
    """F1 / precision / recall floors, then per-intent F1 floors, as configured."""
    floors = (
        ("F1", "f1", gate.min_f1, metrics.f1),
        ("precision", "precision", gate.min_precision, metrics.precision),
        ("recall", "recall", gate.min_recall, metrics.recall),
    )
    rules = [
        _metric_rule(label, key, threshold, value)
        for label, key, threshold, value in floors
        if threshold is not None
    ]
    if gate.per_intent is not None:
        rules.append(_per_intent_rule(gate.per_intent, metrics.per_intent))
    return rules


def _metric_rule(label: str, key: str, threshold: float, value: float | None) -> GateRule:
    rule = f"min_{key}"
    if value is None:
        return GateRule(
            rule=rule,
            passed=False,
            threshold=threshold,
            message=(
                f"{label} not available: the service did not report it, but gate.{rule} "
                f"{_score(threshold)} is configured (set gate.{rule}: null to gate without it)"
            ),
        )
    passed = value >= threshold
    relation = ">=" if passed else "<"
    shown, floor = _distinct(value, threshold)
    return GateRule(
        rule=rule,
        passed=passed,
        value=value,
        threshold=threshold,
        message=f"{label} {shown} {relation} {floor}",
    )


def _per_intent_rule(floor: PerIntentGate, scores: Sequence[IntentScore]) -> GateRule:
    rule = "per_intent.min_f1"
    judged = [s for s in scores if s.support is None or s.support >= floor.min_support]
    if not judged:
        reason = (
            "the service reported no per-intent scores"
            if not scores
            else f"no intent has support >= {floor.min_support}"
        )
        return GateRule(
            rule=rule,
            passed=False,
            threshold=floor.min_f1,
            message=(
                f"per-intent F1 not available: {reason}, but gate.per_intent is configured "
                "(remove gate.per_intent or lower gate.per_intent.min_support)"
            ),
        )
    missing = [s.intent for s in judged if s.f1 is None]
    below = sorted(
        (s for s in judged if s.f1 is not None and s.f1 < floor.min_f1),
        key=lambda s: (s.f1, s.intent),
    )
    known = [s.f1 for s in judged if s.f1 is not None]
    lowest = min(known) if known else None
    return GateRule(
        rule=rule,
        passed=not below and not missing,
        value=lowest,
        threshold=floor.min_f1,
        message=_per_intent_message(floor, len(judged), below, missing)
        + _not_judged(floor, len(scores) - len(judged)),
    )


def _not_judged(floor: PerIntentGate, count: int) -> str:
    """The intents the rule left out, so its count and the weakest-intents table agree."""
    if not count:
        return ""
    return f" ({count} intent{'s' if count != 1 else ''} with support < {floor.min_support} not judged)"


def _per_intent_message(
    floor: PerIntentGate, judged: int, below: list[IntentScore], missing: list[str]
) -> str:
    scope = f"intents with support >= {floor.min_support}"
    parts = []
    if below:
        named = ", ".join(f"'{s.intent}' {_score(s.f1 or 0.0)}" for s in below)
        parts.append(f"{len(below)} of {judged} {scope} below F1 {_score(floor.min_f1)}: {named}")
    if missing:
        parts.append(f"F1 not available for {_quoted(missing)}")
    if not parts:
        return f"all {judged} {scope} have F1 >= {_score(floor.min_f1)}"
    return "; ".join(parts)


# --- champion / challenger ------------------------------------------------------------------


def compare_champion(
    holdout_gold: list[str],
    candidate_pred: list[str | None],
    production_pred: list[str | None],
    champion: ChampionGate,
    *,
    holdout_path: str,
    holdout_sha256: str,
    candidate_version_id: str,
    production_version_id: str,
) -> ChampionComparison:
    """Candidate vs production on the same holdout utterances, with the statistics."""
    interval = stats.paired_bootstrap_macro_f1(
        holdout_gold,
        candidate_pred,
        production_pred,
        samples=champion.bootstrap_samples,
        confidence=champion.confidence,
        seed=champion.seed,
    )
    candidate_only, production_only = stats.discordant_pairs(
        holdout_gold, candidate_pred, production_pred
    )
    changes, precision = gate_intents.intent_changes(
        holdout_gold, candidate_pred, production_pred, champion
    )
    dropped = gate_intents.recall_dropped
    lower = [c.intent for c in precision if c.significant and gate_intents.precision_dropped(c)]
    comparison = ChampionComparison(
        holdout_path=holdout_path,
        holdout_sha256=holdout_sha256,
        n=len(holdout_gold),
        candidate_version_id=candidate_version_id,
        production_version_id=production_version_id,
        candidate_macro_f1=stats.macro_f1(holdout_gold, candidate_pred),
        production_macro_f1=stats.macro_f1(holdout_gold, production_pred),
        candidate_accuracy=stats.accuracy(holdout_gold, candidate_pred),
        production_accuracy=stats.accuracy(holdout_gold, production_pred),
        diff_macro_f1=interval.difference,
        ci_low=interval.low,
        ci_high=interval.high,
        confidence=champion.confidence,
        bootstrap_samples=champion.bootstrap_samples,
        seed=champion.seed,
        mcnemar_candidate_only=candidate_only,
        mcnemar_production_only=production_only,
        mcnemar_p=stats.mcnemar_exact(candidate_only, production_only),
        margin=champion.margin,
        alpha=champion.alpha,
        min_support=champion.min_support,
        intents_worse=[c.intent for c in changes if c.significant and dropped(c)],
        intents_better=[c.intent for c in changes if c.significant and not dropped(c)],
        intent_changes=changes,
        precision_changes=precision,
        precision_worse=lower,
        precision_better=[c.intent for c in precision if c.significant and c.intent not in lower],
        verdict=NO_CHANGE,
        sentence="",
    )
    verdict = _verdict(comparison, champion.alpha)
    sentence = _sentence(comparison, verdict, champion.alpha)
    conclusion = CONCLUSIONS[verdict]
    if verdict == NO_CHANGE and not _within_margin(comparison.ci_low, champion.margin):
        conclusion = INCONCLUSIVE
    return comparison.model_copy(
        update={"verdict": verdict, "sentence": sentence, "conclusion": conclusion}
    )


def _within_margin(ci_low: float, margin: float) -> bool:
    """The non-inferiority test: a loss larger than the margin is ruled out."""
    return ci_low > -margin


def _significant_loss(comparison: ChampionComparison, alpha: float) -> bool:
    return (
        comparison.mcnemar_p < alpha
        and comparison.mcnemar_production_only > comparison.mcnemar_candidate_only
    )


def _overall_loss(comparison: ChampionComparison, alpha: float) -> bool:
    """The whole interval below zero, or McNemar shows a significant loss."""
    return comparison.ci_high < 0 or _significant_loss(comparison, alpha)


def _verdict(comparison: ChampionComparison, alpha: float) -> str:
    """Worse on any significant evidence of loss; better only when nothing says worse."""
    intents = comparison.intents_worse or comparison.precision_worse
    if intents or _overall_loss(comparison, alpha):
        return WORSE
    if comparison.ci_low > 0:
        return BETTER
    return NO_CHANGE


def _difference_clause(c: ChampionComparison) -> str:
    return (
        f"macro-F1 {_score(c.candidate_macro_f1)} vs {_score(c.production_macro_f1)} "
        f"({_signed(c.diff_macro_f1)}, {c.confidence:.0%} CI {_signed(c.ci_low)} to "
        f"{_signed(c.ci_high)}) on {_count(c.n, 'holdout utterance')}"
    )


def _sentence(c: ChampionComparison, verdict: str, alpha: float) -> str:
    difference = _difference_clause(c)
    only_candidate = _count(c.mcnemar_candidate_only, "utterance")
    mcnemar = (
        f"McNemar {_p(c.mcnemar_p)} ({only_candidate} only the candidate got right, "
        f"{c.mcnemar_production_only} only production)"
    )
    intents = _count(len(c.intents_worse), "intent")
    named = gate_intents.recall_clause(c.intent_changes, c.intents_worse)
    recall = f"{intents} significantly worse: {named}" if c.intents_worse else ""
    precision = _precision_tail(c)
    if verdict == WORSE and _overall_loss(c, alpha):
        tail = "".join(f"; {part}" for part in (recall, precision) if part)
        return f"The candidate is worse: {difference}; {mcnemar}{tail}."
    if verdict == WORSE and c.intents_worse:  # no clear loss overall, named intents lost
        tail = f"; {precision}" if precision else ""
        return f"The candidate is worse on {intents}: {named}{tail}; overall {difference}."
    if verdict == WORSE:  # only precision: an intent turned into a catch-all
        return f"The candidate is worse: {precision}; overall {difference}."
    if verdict == BETTER:
        return f"The candidate is better: {difference}, and no intent got significantly worse."
    return f"No significant change: {difference}, an interval that includes zero; {mcnemar}."


def _precision_tail(c: ChampionComparison) -> str:
    if not c.precision_worse:
        return ""
    named = gate_intents.precision_clause(c.precision_changes, c.precision_worse)
    return f"{_count(len(c.precision_worse), 'intent')} significantly lower in precision: {named}"


def champion_rules(comparison: ChampionComparison, champion: ChampionGate) -> list[GateRule]:
    """The non-inferiority rules; none when the champion gate is disabled."""
    if not champion.enabled:
        return []
    # Most specific evidence of harm first (decide() reports the first failure): a named
    # intent (its recall, then the precision of an intent that took others' utterances:
    # a relabelled intent shows in both, and its recall names the intent whose data
    # broke), then a significant overall loss, then a loss beyond the margin that the
    # holdout cannot rule out (which may only mean the holdout is too small).
    return [
        gate_intents.recall_rule(comparison.intent_changes, comparison.intents_worse, champion),
        gate_intents.precision_rule(
            comparison.precision_changes, comparison.precision_worse, champion
        ),
        _mcnemar_rule(comparison, champion.alpha),
        _margin_rule(comparison, champion.margin),
    ]


def _margin_rule(c: ChampionComparison, margin: float) -> GateRule:
    passed = _within_margin(c.ci_low, margin)
    low, limit = _distinct(c.ci_low, -margin, signed=True)
    bound = f"{c.confidence:.0%} CI lower bound of the macro-F1 difference {low}"
    message = (
        f"{bound} > {limit} (non-inferiority margin {_score(margin)})"
        if passed
        else f"{bound} <= {limit}: a loss larger than the {_score(margin)} margin is not ruled out"
    )
    return GateRule(
        rule=MARGIN_RULE, passed=passed, value=c.ci_low, threshold=-margin, message=message
    )


def _mcnemar_rule(c: ChampionComparison, alpha: float) -> GateRule:
    loss = _significant_loss(c, alpha)
    only_production = _count(c.mcnemar_production_only, "utterance")
    counts = (
        f"production right and candidate wrong on {only_production}, "
        f"the reverse on {c.mcnemar_candidate_only}"
    )
    message = (
        f"McNemar exact test shows a significant loss: {counts} ({_p(c.mcnemar_p)}, alpha {alpha})"
        if loss
        else f"McNemar exact test shows no significant loss: {counts} ({_p(c.mcnemar_p)})"
    )
    return GateRule(
        rule="champion.mcnemar",
        passed=not loss,
        value=c.mcnemar_p,
        threshold=alpha,
        message=message,
    )


# --- the decision ---------------------------------------------------------------------------


def decide(rules: Sequence[GateRule], comparison: ChampionComparison | None = None) -> GateOutcome:
    """Pass only when every rule passes; rules are given most important first.

    On a pass with a champion comparison, the reason says how the candidate compares
    with production: that, not the count of rules, is what a reviewer wants to read.
    """
    failed = [rule.message for rule in rules if not rule.passed]
    if failed:
        more = len(failed) - 1
        noun = "rule" if more == 1 else "rules"
        suffix = f" (and {more} more failed {noun})" if more else ""
        held = comparison is not None and comparison.conclusion == INCONCLUSIVE
        held = held and all(rule.rule == MARGIN_RULE for rule in rules if not rule.passed)
        return GateOutcome(passed=False, reason=f"{failed[0]}{suffix}", reasons=failed, held=held)
    if not rules:
        return GateOutcome(
            passed=True,
            reason="No gate rule is configured or applicable, so nothing blocked the candidate.",
        )
    names = ", ".join(rule.rule for rule in rules)
    counted = f"All {len(rules)} gate rules passed" if len(rules) > 1 else "The gate rule passed"
    reason = f"{counted} ({names})."
    if comparison is not None:
        reason = (
            f"{counted}; against production: {comparison.verdict} "
            f"(holdout macro-F1 {comparison.candidate_macro_f1:.3f} vs "
            f"{comparison.production_macro_f1:.3f}, {comparison.confidence:.0%} CI of the difference "
            f"{comparison.ci_low:+.3f} to {comparison.ci_high:+.3f})."
        )
    return GateOutcome(passed=True, reason=reason, reasons=[rule.message for rule in rules])


# --- the gates we compare against in benchmarks/decision_quality.py -------------------------


def threshold_only_gate(gate: GateSection, metrics: EvalMetrics) -> GateOutcome:
    """The seed's gate: fixed floors on the service's validation metrics, nothing else."""
    return decide(threshold_rules(gate, metrics))


def raw_delta_gate(
    candidate_macro_f1: float, production_macro_f1: float, *, min_delta: float = 0.0
) -> GateOutcome:
    """What other NLU actions show: promote when the candidate's score is not lower."""
    delta = candidate_macro_f1 - production_macro_f1
    passed = delta >= min_delta
    relation = ">=" if passed else "<"
    rule = GateRule(
        rule="raw_delta",
        passed=passed,
        value=delta,
        threshold=min_delta,
        message=f"macro-F1 change {_signed(delta)} {relation} {_signed(min_delta)}",
    )
    return decide([rule])

"""The stages after training: the job's metrics, then the gate - thresholds and the
champion/challenger comparison on the holdout set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ci_trainer.backend_types import EvalMetrics, IntentScore, Prediction, Target, TrainingJob
from ci_trainer.backends.base import Backend
from ci_trainer.datasets import Dataset
from ci_trainer.errors import ContractError, FeatureUnavailable
from ci_trainer.holdout_changes import holdout_changes, outcomes_of
from ci_trainer.pipeline.context import StageContext
from ci_trainer.result import ChampionComparison, GateRule
from ci_trainer.workspace import shown_path

WEAKEST_INTENTS = 5


def read_metrics(ctx: StageContext, backend: Backend, job: TrainingJob) -> EvalMetrics:
    """The finished job's metrics, refused when no gate could judge them."""
    with ctx.stage("Metrics"):
        metrics = backend.training_metrics(job)
        check_metrics(metrics)
        # Warnings a backend derived from the service's own analysis (cognigy-v2: the
        # Intent Analyzer's poorFScore, fewSentences, strongOverlap ...).
        for text in backend.warnings():
            ctx.message("warning", str(text), title="Intent Analyzer")
    ctx.recorder.record(
        metrics=metrics, version_id=metrics.version_id, convergence=list(metrics.convergence)
    )
    ctx.recorder.record(weakest_intents=weakest_intents(metrics.per_intent))
    return metrics


def evaluate(
    ctx: StageContext,
    backend: Backend,
    target: Target,
    metrics: EvalMetrics,
    holdout: Dataset | None,
    training: Sequence[Dataset] = (),
) -> list[GateRule]:
    """The gate's rules; an intent the candidate made significantly worse is also an
    error at its first example in `training` (the committed datasets), where a reviewer
    would start looking."""
    # The gate pulls in numpy (~0.2 s); imported here, after training, it stays off
    # the path from process start to the first request (target: 0.3 s).
    from ci_trainer.gate import threshold_rules

    with ctx.stage("Gate"):
        rules = list(threshold_rules(ctx.config.gate, metrics))
        rules += _champion(ctx, backend, target, metrics.version_id, holdout)
        ctx.recorder.record(gate=rules)
        champion = ctx.recorder.snapshot().champion
        if champion is not None:
            _point_at_regressions(ctx, champion, first_examples(training))
        for rule in rules:
            ctx.reporter.info(f"{'pass' if rule.passed else 'FAIL'}  {rule.message}")
    return rules


def _champion(
    ctx: StageContext, backend: Backend, target: Target, candidate: str, holdout: Dataset | None
) -> list[GateRule]:
    note = _champion_unavailable(ctx, backend, holdout)
    production = ctx.recorder.snapshot().production
    if note is None and holdout is not None and production and production.version_id:
        try:
            return _compare_on_holdout(
                ctx, backend, target, candidate, production.version_id, holdout
            )
        except FeatureUnavailable:
            note = "the service has no predict endpoint"
    if note is not None:
        champion_note = f"{note}; the gate used the thresholds alone"
        ctx.recorder.record(champion_note=champion_note)
        ctx.reporter.info(f"champion/challenger skipped: {champion_note}")
    return []


def _champion_unavailable(
    ctx: StageContext, backend: Backend, holdout: Dataset | None
) -> str | None:
    production = ctx.recorder.snapshot().production
    if not ctx.config.gate.champion.enabled:
        return "the champion/challenger comparison is disabled (gate.champion.enabled)"
    if holdout is None:
        return "no holdout set is configured (holdout.path)"
    if production is None:
        return "the service does not report the production version"
    if production.version_id is None:
        return "there is no production version yet"
    if production.unscorable:
        return f"production cannot be scored: {production.unscorable}"
    return None


def _compare_on_holdout(
    ctx: StageContext,
    backend: Backend,
    target: Target,
    candidate: str,
    champion: str,
    holdout: Dataset,
) -> list[GateRule]:
    texts = holdout.texts
    candidate_pred = backend.predict(target, candidate, texts)
    production_pred = backend.predict(target, champion, texts)
    from ci_trainer.gate import champion_rules, compare_champion

    comparison = compare_champion(
        holdout.labels,
        [p.intent for p in candidate_pred],
        [p.intent for p in production_pred],
        ctx.config.gate.champion,
        # The path as written in the config (relative, portable), not the resolved one.
        holdout_path=ctx.config.holdout.path if ctx.config.holdout else holdout.path,
        holdout_sha256=holdout.sha256,
        candidate_version_id=candidate,
        production_version_id=champion,
    )
    production = ctx.recorder.snapshot().production
    scored_on = {"production_scored_on": production.scored_on if production else None}
    comparison = comparison.model_copy(
        update={**threshold_counts(candidate_pred, production_pred), **scored_on}
    )
    flagged = {*comparison.intents_worse, *comparison.precision_worse}
    outcomes = outcomes_of(texts, holdout.labels, candidate_pred, production_pred, flagged)
    ctx.recorder.record(champion=comparison, holdout_changes=holdout_changes(outcomes))
    if comparison.score_threshold is not None:
        ctx.reporter.info(
            f"holdout held to the service's score threshold {comparison.score_threshold:g}: "
            f"{comparison.candidate_below_threshold} candidate and "
            f"{comparison.production_below_threshold} production predictions below it "
            "(no intent)"
        )
    ctx.reporter.info(comparison.sentence)
    return list(champion_rules(comparison, ctx.config.gate.champion))


def _point_at_regressions(
    ctx: StageContext, comparison: ChampionComparison, first: Mapping[str, tuple[str, int | None]]
) -> None:
    """One error per regressed intent (recall, then precision) at its first training
    example. An intent with no committed example (a dataset the service alone holds)
    has nowhere to point: the gate rule names it anyway."""
    from ci_trainer.gate_intents import precision_clause, recall_clause

    found = [
        (intent, recall_clause(comparison.intent_changes, [intent]))
        for intent in comparison.intents_worse
    ]
    found += [
        (intent, precision_clause(comparison.precision_changes, [intent]))
        for intent in comparison.precision_worse
    ]
    for intent, clause in found:
        if intent not in first:
            continue
        path, line = first[intent]
        ctx.message(
            "error",
            f"{clause}: significantly worse than production on the holdout "
            f"{comparison.holdout_path}; this is the intent's first training example",
            title=f"Regressed intent {intent}",
            file=shown_path(path),
            line=line,
        )


def first_examples(datasets: Sequence[Dataset]) -> dict[str, tuple[str, int | None]]:
    """Each intent's first example in the datasets, in config order: (file, line)."""
    first: dict[str, tuple[str, int | None]] = {}
    for dataset in datasets:
        for example in dataset.examples:
            first.setdefault(example.intent, (dataset.path, example.line))
    return first


def threshold_counts(
    candidate: Sequence[Prediction], production: Sequence[Prediction]
) -> dict[str, float | int | None]:
    """The service's score threshold the predictions were held to, and how many of each
    side's fell below it (counted as no intent); empty when none was applied."""
    threshold = next(
        (p.threshold for p in (*candidate, *production) if p.threshold is not None), None
    )
    if threshold is None:
        return {}
    return {
        "score_threshold": threshold,
        "candidate_below_threshold": sum(p.below_threshold for p in candidate),
        "production_below_threshold": sum(p.below_threshold for p in production),
    }


def check_metrics(metrics: EvalMetrics) -> None:
    """Refuse metrics no gate can judge: NaN passes JSON and `minimum: 0` alike.

    A NaN F1 compares False against every threshold, so it would read as a normal
    rejection (or, in a `>=` rule, slip through); it is the service's fault, not the model's.
    """
    values: list[tuple[str, float | None]] = [
        ("f1Score", metrics.f1),
        ("precision", metrics.precision),
        ("recall", metrics.recall),
        ("accuracy", metrics.accuracy),
        ("macro.f1", metrics.macro_f1),
    ]
    values += [(f"perIntent.{s.intent}.f1", s.f1) for s in metrics.per_intent]
    # A combined figure is the lowest member's; a NaN member makes that minimum
    # depend on the order of the targets, so it is refused like a NaN F1.
    values += [
        (f"targets.{t.label}.{name}", getattr(t, name))
        for t in metrics.targets
        for name in ("f1", "accuracy", "macro_f1")
    ]
    bad = [name for name, value in values if value is not None and not 0.0 <= value <= 1.0]
    if bad:
        raise ContractError(
            call="getTrainingMetrics",
            message_text=(
                f"the service reported metrics outside 0..1 (NaN or out of range): {', '.join(bad)}"
            ),
            hint_text="a service defect; re-run the job, and report it with the training id if it persists",
        )


def weakest_intents(scores: list[IntentScore], count: int = WEAKEST_INTENTS) -> list[IntentScore]:
    """The intents with the lowest F1 (those without an F1 cannot be ranked)."""
    ranked = sorted((s for s in scores if s.f1 is not None), key=lambda s: (s.f1, s.intent))
    return ranked[:count]

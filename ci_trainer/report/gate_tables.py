"""What decided the run: the gate's rules, the champion/challenger comparison, and the
dataset checks."""

from __future__ import annotations

from collections.abc import Sequence

from ci_trainer.report.markdown import escape, fmt, fmt_signed, table
from ci_trainer.result import ChampionComparison, CheckStatus, RunResult

_CHECK_ICONS: dict[CheckStatus, str] = {
    CheckStatus.PASSED: "✅ passed",
    CheckStatus.FAILED: "❌ failed",
    CheckStatus.WARNING: "⚠️ warning",
    CheckStatus.SKIPPED: "⏭️ skipped",
}


def gate_section(result: RunResult) -> str | None:
    if not result.gate:
        return None
    rows = [
        [
            escape(rule.rule),
            fmt(rule.value),
            fmt(rule.threshold),
            "✅ pass" if rule.passed else "❌ fail",
            escape(rule.message),
        ]
        for rule in result.gate
    ]
    body = "### Gate\n\n" + table(["Rule", "Value", "Threshold", "Result", "Why"], rows)
    # Reasons the table does not already say (e.g. a dataset check that failed).
    shown = {result.reason, *(rule.message for rule in result.gate)}
    extra = [escape(reason) for reason in result.reasons if reason not in shown]
    if extra:
        body += "\n\n" + "\n".join(f"- {reason}" for reason in extra)
    return body


def champion_section(result: RunResult) -> str | None:
    champion = result.champion
    if champion is None:
        if not result.champion_note:
            return None
        return f"### Champion / challenger\n\nNot compared: {escape(result.champion_note)}"
    confidence = f"{champion.confidence:.0%}"
    rows = [
        ["Macro F1", fmt(champion.candidate_macro_f1), fmt(champion.production_macro_f1)],
        ["Accuracy", fmt(champion.candidate_accuracy), fmt(champion.production_accuracy)],
        ["Version", escape(champion.candidate_version_id), escape(champion.production_version_id)],
    ]
    facts = [
        f"- Macro-F1 difference {fmt_signed(champion.diff_macro_f1)}, {confidence} CI "
        f"{fmt_signed(champion.ci_low)} to {fmt_signed(champion.ci_high)} "
        f"(paired bootstrap, {champion.bootstrap_samples} samples, seed {champion.seed}); "
        f"non-inferiority margin {fmt(champion.margin)}.",
        f"- McNemar exact test: p = {fmt(champion.mcnemar_p, 4)} "
        f"({champion.mcnemar_candidate_only} utterances only the candidate got right, "
        f"{champion.mcnemar_production_only} only production got right).",
        f"- Intents significantly worse: {_names(champion.intents_worse)}.",
        f"- Intents significantly better: {_names(champion.intents_better)}.",
        f"- Intents significantly lower in precision: {_names(champion.precision_worse)}; "
        f"higher: {_names(champion.precision_better)} (Holm over recall and precision).",
        f"- Verdict: **{escape(champion.verdict)}**"
        + (
            f", but a loss larger than the {fmt(champion.margin)} margin is not ruled out "
            "(inconclusive: the candidate is held)."
            if champion.conclusion == "inconclusive"
            else "."
        ),
    ]
    if champion.score_threshold is not None:
        facts.insert(0, _threshold_fact(champion))
    if champion.production_scored_on:
        facts.insert(0, f"- Production was scored on {escape(champion.production_scored_on)}.")
    return (
        f"### Champion / challenger\n\n{escape(champion.sentence)}\n\n"
        + table(["", "Candidate", "Production"], rows)
        + f"\n\nOn the committed holdout {escape(champion.holdout_path)} "
        f"({champion.n} utterances, sha256 {escape(champion.holdout_sha256[:12])}).\n\n"
        + "\n".join(facts)
    )


def _threshold_fact(champion: ChampionComparison) -> str:
    return (
        f"- Scored as the live bot maps intents: a top score below the service's threshold "
        f"{fmt(champion.score_threshold)} counts as no intent. Below it: "
        f"{champion.candidate_below_threshold} of {champion.n} candidate and "
        f"{champion.production_below_threshold} of {champion.n} production predictions."
    )


def _names(names: Sequence[str]) -> str:
    return ", ".join(escape(name) for name in names) if names else "none"


def checks_section(result: RunResult) -> str | None:
    if not result.checks:
        return None
    rows = [
        [
            escape(check.check),
            escape(check.dataset_id or "all"),
            _CHECK_ICONS[check.status],
            fmt(check.value),
            fmt(check.threshold),
            escape(check.message),
        ]
        for check in result.checks
    ]
    headers = ["Check", "Dataset", "Result", "Value", "Threshold", "Message"]
    return "### Dataset checks\n\n" + table(headers, rows)

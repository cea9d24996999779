"""The `verdict` output and the "Held" heading (issue 15, item 4).

A workflow must tell a hold (no significant change, but the holdout cannot rule out a
loss beyond the margin) from a proven regression: both are `rejected`, and only the
verdict and the summary's heading say which.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import cmarkgfm

from ci_trainer import gate as gating
from ci_trainer.audit import build_record
from ci_trainer.config.model import ChampionGate
from ci_trainer.decision import Decision
from ci_trainer.report import build_outputs, render_summary
from ci_trainer.result import ChampionComparison, GateRule, Mode, RunResult

from .test_gate import compare, holdout, with_errors

NOW = datetime(2026, 12, 3, tzinfo=timezone.utc)


def better() -> ChampionComparison:
    gold = holdout()
    production = with_errors(gold, set(range(0, 200, 4)))
    return compare(gold, with_errors(gold, set(range(0, 200, 20))), production)


def worse() -> ChampionComparison:
    gold = holdout()
    production = with_errors(gold, set(range(0, 200, 20)))
    return compare(gold, with_errors(gold, set(range(0, 200, 4))), production)


def same() -> ChampionComparison:
    gold = holdout(per_intent=200)
    shared = set(range(0, 1000, 10))
    production = with_errors(gold, shared | set(range(1, 1000, 100)))
    return compare(gold, with_errors(gold, shared | set(range(2, 1000, 100))), production)


def noisy() -> ChampionComparison:
    gold = holdout(per_intent=20)
    production = with_errors(gold, set(range(0, 100, 3)))
    return compare(gold, with_errors(gold, set(range(1, 100, 3))), production)


def run_result(comparison: ChampionComparison | None, *, extra_failure: bool = False) -> RunResult:
    """The RunResult the pipeline builds from this comparison's gate decision."""
    rules = gating.champion_rules(comparison, ChampionGate()) if comparison else []
    if extra_failure:
        rules = [GateRule(rule="min_f1", passed=False, message="F1 0.700 < 0.800"), *rules]
    outcome = gating.decide(rules, comparison)
    return RunResult(
        run_uuid="u-1",
        tool_version="0.1.0",
        backend="cognigy-v1",
        mode=Mode.TRAIN,
        decision=Decision.APPROVED if outcome.passed else Decision.REJECTED,
        reason=outcome.reason,
        started_at=NOW,
        finished_at=NOW,
        duration_seconds=1.0,
        gate=rules,
        champion=comparison,
        held=outcome.held,
    )


def test_each_comparison_gives_its_verdict_output() -> None:
    assert build_outputs(run_result(better()))["verdict"] == "better"
    assert build_outputs(run_result(worse()))["verdict"] == "worse"
    assert build_outputs(run_result(same()))["verdict"] == "no-significant-change"
    assert build_outputs(run_result(noisy()))["verdict"] == "inconclusive"
    assert build_outputs(run_result(None))["verdict"] == "not-compared"


def test_a_hold_is_rejected_but_headed_held_and_a_regression_is_not() -> None:
    hold = run_result(noisy())
    assert (hold.decision, hold.held) == (Decision.REJECTED, True)
    assert render_summary(hold).startswith("## ⏸️ Held")
    assert "margin is not ruled out (inconclusive: the candidate is held)" in (render_summary(hold))
    assert build_outputs(hold)["decision"] == "rejected"
    assert build_outputs(hold)["summary"].startswith("Held: ")

    regression = run_result(worse())
    assert (regression.decision, regression.held) == (Decision.REJECTED, False)
    assert render_summary(regression).startswith("## ❌ Rejected")


def test_a_hold_that_also_misses_a_threshold_is_a_plain_rejection() -> None:
    result = run_result(noisy(), extra_failure=True)
    assert (result.decision, result.held) == (Decision.REJECTED, False)
    assert build_outputs(result)["verdict"] == "inconclusive"
    page = cmarkgfm.github_flavored_markdown_to_html(render_summary(result))
    assert "<h2>❌ Rejected" in page


def test_outputs_and_the_audit_record_carry_the_discordant_counts_and_intent_tests() -> None:
    result = run_result(worse())
    champion = json.loads(build_outputs(result)["metrics"])["champion"]
    assert (champion["mcnemar_candidate_only"], champion["mcnemar_production_only"]) == (0, 40)
    assert champion["conclusion"] == "worse"
    assert [change["intent"] for change in champion["intent_changes"]] == sorted(
        change.intent for change in worse().intent_changes
    )
    balance = next(c for c in champion["intent_changes"] if c["intent"] == "balance")
    assert (balance["candidate_only"], balance["production_only"]) == (0, 8)
    assert balance["significant"] is True

    record = build_record(result, governance_tags=[])
    assert record["champion"]["mcnemarProductionOnly"] == 40
    assert record["champion"]["conclusion"] == "worse"
    assert len(record["champion"]["intentChanges"]) == len(champion["intent_changes"])
    assert record["held"] is False

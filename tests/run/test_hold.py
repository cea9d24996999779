"""A hold from a whole run (issue 15, item 4): the second run's candidate equals the
production model, so no change is significant, but with a margin of 0 a loss is not
ruled out either. The run is rejected, headed Held, and its verdict is inconclusive."""

from __future__ import annotations

import json
from pathlib import Path

from ci_trainer.decision import Decision
from ci_trainer.report import build_outputs, render_summary
from ci_trainer.result import Mode

from .conftest import Harness


def test_a_candidate_the_holdout_cannot_clear_is_held(harness: Harness) -> None:
    config = harness.project({"gate": {"champion": {"margin": 0.0}}})
    emu = harness.emulator(config)
    first = harness.run(config, emu, mode=Mode.PROMOTE)
    assert first.decision is Decision.PROMOTED, first.reason
    assert build_outputs(first)["verdict"] == "not-compared"  # nothing to compare with yet

    second = harness.run(config, emu, mode=Mode.PROMOTE)
    assert second.decision is Decision.REJECTED
    assert second.held
    assert second.champion is not None and second.champion.verdict == "no significant change"
    assert [rule.rule for rule in second.gate if not rule.passed] == ["champion.margin"]
    outputs = build_outputs(second)
    assert (outputs["decision"], outputs["verdict"]) == ("rejected", "inconclusive")
    assert render_summary(second).startswith("## ⏸️ Held")
    assert second.audit_log is not None
    lines = Path(second.audit_log).read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    assert record["held"] is True
    assert record["champion"]["conclusion"] == "inconclusive"
    assert emu.state.production["model-test"] == first.version_id  # nothing was promoted

"""The summary's wording (issue 15 item 9): no "production none yet", no "n/a (n/a)",
no "1 samples", no "skipped: skipped", and the weakest-intents table marks the intents
the per-intent gate did not judge, so both count the same intents."""

from __future__ import annotations

from run_results import approved

from ci_trainer.backend_types import IntentScore, ModelVersion
from ci_trainer.report import render_summary
from ci_trainer.result import Provenance, ResourceUsage


def test_no_production_yet_reads_as_a_sentence() -> None:
    summary = render_summary(approved().model_copy(update={"production": None}))
    assert "none yet" not in summary
    assert "with no production model to compare against (none has been promoted yet)" in summary
    named = approved().model_copy(update={"production": ModelVersion(version_id="v-prod-7")})
    assert "against production v-prod-7" in render_summary(named)


def test_an_unknown_trigger_says_it_was_not_recorded() -> None:
    result = approved().model_copy(update={"provenance": Provenance()})
    summary = render_summary(result)
    assert "n/a (n/a)" not in summary
    assert "| Triggered by | not recorded (no CI actor or event in the environment) |" in summary
    known = approved().model_copy(update={"provenance": Provenance(actor="octocat", event="push")})
    assert "| Triggered by | octocat (push) |" in render_summary(known)


def test_one_sample_is_singular() -> None:
    usage = ResourceUsage(samples=1, peak_cpu_percent=50.0, peak_memory_percent=1.0)
    summary = render_summary(approved().model_copy(update={"resources": usage}))
    assert "(1 sample):" in summary and "1 samples" not in summary


def test_the_weakest_intents_mark_what_the_per_intent_gate_did_not_judge() -> None:
    result = approved().model_copy(
        update={
            "weakest_intents": [
                IntentScore(intent="tiny", f1=0.1, support=2),
                IntentScore(intent="refund", f1=0.64, support=30),
            ],
            "thresholds": {"gate": {"per_intent": {"min_f1": 0.5, "min_support": 5}}},
        }
    )
    section = render_summary(result).split("### Weakest intents", 1)[1].split("###", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0].endswith("| Gate |")
    assert rows[2].endswith("| not judged (support 2 < 5) |")
    assert rows[3].endswith("| judged |")

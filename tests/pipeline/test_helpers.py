"""The pipeline's pure helpers: idempotency keys, resource peaks, weakest intents, payloads."""

from __future__ import annotations

import pytest

from ci_trainer.backend_types import EvalMetrics, IntentScore, JobState, JobStatus, TargetScore
from ci_trainer.errors import ContractError
from ci_trainer.pipeline.dataset_stages import REQUIRED_SCOPES
from ci_trainer.pipeline.evaluation import check_metrics, weakest_intents
from ci_trainer.pipeline.training import idempotency_key, record_resources
from ci_trainer.result import Mode, Provenance, ResourceUsage

GITHUB = Provenance(
    repository="acme/bot", commit="abc123", run_id="987", run_attempt="1", event="push"
)


def test_key_is_stable_for_the_same_ci_run_attempt() -> None:
    first = idempotency_key(GITHUB, "cafe", 1, nonce="n1")
    again = idempotency_key(GITHUB, "cafe", 1, nonce="n2")  # a different process, same run
    assert first == again
    assert first.startswith("ci-trainer-")
    assert 8 <= len(first) <= 255  # the contract's bounds for Idempotency-Key


def test_key_changes_with_every_input_that_should_retrain() -> None:
    base = idempotency_key(GITHUB, "cafe", 1, nonce="n")
    variants = [
        idempotency_key(GITHUB.model_copy(update={"run_attempt": "2"}), "cafe", 1, nonce="n"),
        idempotency_key(GITHUB.model_copy(update={"commit": "def456"}), "cafe", 1, nonce="n"),
        idempotency_key(GITHUB.model_copy(update={"repository": "acme/x"}), "cafe", 1, nonce="n"),
        idempotency_key(GITHUB.model_copy(update={"run_id": "988"}), "cafe", 1, nonce="n"),
        idempotency_key(GITHUB, "beef", 1, nonce="n"),
        idempotency_key(GITHUB, "cafe", 2, nonce="n"),  # our own retry after a FAILED job
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_without_a_ci_run_every_run_gets_a_fresh_key() -> None:
    local = Provenance()
    assert idempotency_key(local, "cafe", 1, nonce="run-a") != idempotency_key(
        local, "cafe", 1, nonce="run-b"
    )


def status(cpu: float | None, memory: float | None) -> JobStatus:
    return JobStatus(
        state=JobState.RUNNING, raw_status="RUNNING", cpu_percent=cpu, memory_percent=memory
    )


def test_resources_keep_peak_and_last() -> None:
    usage = ResourceUsage()
    for cpu, memory in [(10.0, 30.0), (85.0, 40.0), (20.0, None), (None, None)]:
        record_resources(usage, status(cpu, memory))
    assert usage.samples == 3  # the answer without any figure is not a sample
    assert usage.peak_cpu_percent == 85.0
    assert usage.last_cpu_percent == 20.0
    assert usage.peak_memory_percent == 40.0
    assert usage.last_memory_percent == 40.0


def test_weakest_intents_are_the_lowest_f1_and_skip_unknown() -> None:
    scores = [
        IntentScore(intent="billing", f1=0.9),
        IntentScore(intent="refund", f1=0.4),
        IntentScore(intent="greeting", f1=None),
        IntentScore(intent="cancel", f1=0.7),
        IntentScore(intent="address", f1=0.4),
    ]
    weakest = weakest_intents(scores, count=3)
    assert [s.intent for s in weakest] == ["address", "refund", "cancel"]


def test_promote_needs_every_scope_train_needs_and_model_write() -> None:
    assert set(REQUIRED_SCOPES[Mode.TRAIN]) < set(REQUIRED_SCOPES[Mode.PROMOTE])
    assert "model:write" in REQUIRED_SCOPES[Mode.PROMOTE]
    assert "model:write" not in REQUIRED_SCOPES[Mode.TRAIN]


def test_a_nan_in_one_targets_figures_is_refused_like_a_nan_f1() -> None:
    # min() over the targets with a NaN among them depends on their order.
    members = [
        TargetScore(id="a", label="Shop/en-US", f1=0.9),
        TargetScore(id="b", label="Shop/de-DE", f1=0.8, accuracy=float("nan")),
    ]
    check_metrics(EvalMetrics(version_id="v", f1=0.8, targets=members[:1]))
    with pytest.raises(ContractError, match=r"targets\.Shop/de-DE\.accuracy"):
        check_metrics(EvalMetrics(version_id="v", f1=0.8, targets=members))

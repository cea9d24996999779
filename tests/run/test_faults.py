"""Each kind of the emulator's fault plan, and the outcome a run must reach under it."""

from __future__ import annotations

import time

from ci_trainer.decision import Decision
from ci_trainer.emulator.faults import Fault, FaultPlan
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import CheckStatus, Mode
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .conftest import Harness


def statuses(harness_emu_requests: list[object]) -> list[int | None]:
    return [getattr(r, "status", None) for r in harness_emu_requests]


# --- status ------------------------------------------------------------------------------


def test_transient_503_while_polling_is_retried(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config, Fault(operation="getTrainingStatus", kind="status", status=503, calls=(1, 2))
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert statuses(emu.state.requests_for("getTrainingStatus"))[:3] == [503, 503, 200]


def test_429_with_retry_after_is_honoured(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config,
        Fault(
            operation="getTrainingStatus", kind="status", status=429, retry_after=0.2, calls=(1,)
        ),
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert statuses(emu.state.requests_for("getTrainingStatus"))[:2] == [429, 200]


def test_a_persistent_5xx_on_metrics_fails_with_support_info(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="getTrainingMetrics", kind="status", status=502))
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.support is not None and result.support.status == 502
    assert result.support.endpoint.startswith("getTrainingMetrics")
    assert len(emu.state.requests_for("getTrainingMetrics")) > 1  # retried before giving up
    assert result.status == "COMPLETED"  # the training itself was fine


def test_a_404_on_the_train_call_fails_without_support_ticket_data(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="startTraining", kind="status", status=400))
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.support is None  # a 4xx is ours to fix, not a support ticket
    assert "HTTP 400" in result.reason


# --- delay, drop -------------------------------------------------------------------------


def test_an_answer_slower_than_the_read_timeout_is_retried(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config, Fault(operation="getTrainingStatus", kind="delay", seconds=1.5, calls=(1,))
    )
    result = harness.run(config, emu)  # the harness' read timeout is 1 s
    assert result.decision is Decision.APPROVED, result.reason
    # The slow first answer is logged only once it is sent; the retry is call 2.
    assert max(r.call for r in emu.state.requests_for("getTrainingStatus")) >= 2


def test_a_dropped_connection_is_retried(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="getDatasetStats", kind="drop", calls=(1,)))
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert statuses(emu.state.requests_for("getDatasetStats"))[:2] == [None, 200]


def test_a_retried_train_post_never_creates_two_trainings(harness: Harness) -> None:
    config = harness.project()
    # The service starts the training but the answer is lost: the client must retry with
    # the same Idempotency-Key and get the same training back.
    emu = harness.emulator(
        config, Fault(operation="startTraining", kind="drop", when="after", calls=(1,))
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    first, retried = emu.state.requests_for("startTraining")
    assert (first.status, first.faults) == (None, ("drop",))  # started, but the answer was lost
    assert retried.status == 200  # a replay, not a new training (202)
    assert first.idempotency_key == retried.idempotency_key
    assert retried.idempotency_key == result.attempts[0].idempotency_key
    assert [t.training_id for t in emu.state.trainings.values()] == [result.training_id]
    assert emu.state.trainings[result.training_id or ""].idempotency_key == retried.idempotency_key


# --- malformed answers ---------------------------------------------------------------------


def test_malformed_json_from_metrics_fails_as_a_contract_error(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="getTrainingMetrics", kind="malformed_json"))
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.error is not None and result.error.type == "ContractError"
    assert result.support is None


def test_a_status_without_its_status_field_fails_and_cancels_the_job(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config,
        Fault(operation="getTrainingStatus", kind="missing_field", field="status"),
        training_seconds=30.0,
        time_scale=1.0,
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.error is not None and result.error.type == "ContractError"
    assert emu.state.requests_for("cancelTraining")
    assert emu.state.trainings[result.training_id or ""].status == "CANCELLED"
    assert result.attempts[0].status == "CANCELLED"


def test_an_unknown_status_value_is_an_error_not_an_endless_loop(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config,
        Fault(operation="getTrainingStatus", kind="patch", set={"status": "PAUSED"}),
        training_seconds=30.0,
        time_scale=1.0,
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert "PAUSED" in result.reason
    assert len(emu.state.requests_for("getTrainingStatus")) == 1
    assert emu.state.trainings[result.training_id or ""].status == "CANCELLED"


def test_progress_going_backwards_does_not_break_the_wait(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config,
        Fault(operation="getTrainingStatus", kind="patch", set={"progress": 1}, calls=(3, 4)),
        training_seconds=0.8,
        time_scale=1.0,
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert result.attempts[0].status_requests >= 3


def test_non_finite_metrics_fail_the_run(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config, Fault(operation="getTrainingMetrics", kind="patch", set={"f1Score": float("nan")})
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.error is not None and result.error.type == "ContractError"


# --- job outcomes --------------------------------------------------------------------------


def test_a_failed_training_fails_the_run_with_the_service_message(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config, Fault(operation="startTraining", kind="job_failed", message="worker out of memory")
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.exit_code == 3
    assert result.status == "FAILED"
    assert "worker out of memory" in result.reason
    assert "retry_on_failure" in result.reason  # the hint says how to retry
    assert len(result.attempts) == 1


def test_a_failed_training_is_retried_with_a_smaller_batch(harness: Harness) -> None:
    config = harness.project(
        {"training": {"retry_on_failure": {"attempts": 2, "batch_size_factor": 0.5}}}
    )
    emu = harness.emulator(config, Fault(operation="startTraining", kind="job_failed", calls=(1,)))
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert [(a.status, a.batch_size) for a in result.attempts] == [
        ("FAILED", 32),
        ("COMPLETED", 16),
    ]
    assert result.attempts[0].idempotency_key != result.attempts[1].idempotency_key
    sent = sorted(t.request["hyperparameters"]["batchSize"] for t in emu.state.trainings.values())
    assert sent == [16, 32]
    assert any("retrying with batch size 16" in m.text for m in result.messages)


def test_retries_never_go_below_the_contract_minimum_batch_size(harness: Harness) -> None:
    config = harness.project(
        {
            "training": {
                "hyperparameters": {"batch_size": 10},
                "retry_on_failure": {"attempts": 2, "batch_size_factor": 0.5},
            }
        }
    )
    emu = harness.emulator(config, Fault(operation="startTraining", kind="job_failed"))
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert [a.batch_size for a in result.attempts] == [10, 8, 8]
    assert all(a.status == "FAILED" for a in result.attempts)


def test_a_stuck_job_times_out_and_is_cancelled(harness: Harness) -> None:
    config = harness.project({"training": {"timeout_minutes": 0.02}})  # 1.2 s
    emu = harness.emulator(config, Fault(operation="startTraining", kind="job_stuck"))
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert "did not finish within" in result.reason
    assert "cancelled" in result.reason
    assert emu.state.trainings[result.training_id or ""].status == "CANCELLED"
    assert result.audit_log is not None


def test_a_timeout_without_a_cancel_endpoint_still_fails_cleanly(harness: Harness) -> None:
    config = harness.project({"training": {"timeout_minutes": 0.01}})
    emu = harness.emulator(
        config,
        Fault(operation="startTraining", kind="job_stuck"),
        Fault(operation="cancelTraining", kind="status", status=404),
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert "may still be running" in result.reason
    assert any("no cancel endpoint" in m.text for m in result.messages)


def test_short_lived_tokens_are_refreshed(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config,
        Fault(operation="getToken", kind="token_expires_in", seconds=0.3),
        training_seconds=1.0,
        time_scale=1.0,
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert emu.state.tokens_issued >= 2


def test_production_changed_during_the_run_stops_the_promotion(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    first = harness.run(config, emu, mode=Mode.PROMOTE)
    assert first.decision is Decision.PROMOTED
    reads = emu.call_count("getProductionVersion")
    # Someone else promotes right before our second read of production (before promoting).
    emu.set_fault_plan(
        FaultPlan.of(
            Fault(operation="getProductionVersion", kind="external_promotion", calls=(reads + 2,))
        )
    )
    second = harness.run(config, emu, mode=Mode.PROMOTE)
    assert second.decision is Decision.FAILED
    assert second.exit_code == 3
    assert "production changed during this run" in second.reason
    assert second.promotion.promoted is False
    now = emu.state.production["model-test"]
    assert now not in (first.version_id, second.version_id)  # the other team's version stays


def test_a_missing_scope_fails_before_training_naming_it(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config, granted_scopes=["model:read", "training:read", "training:write"])
    result = harness.run(config, emu, mode=Mode.PROMOTE)
    assert result.decision is Decision.FAILED
    assert "model:write" in result.reason
    assert emu.state.requests_for("startTraining") == []
    # The same client is enough for train mode.
    assert harness.run(config, emu, mode=Mode.TRAIN).decision is Decision.APPROVED


def test_wrong_credentials_fail_with_an_auth_error(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    result = harness.run(config, emu, env={"COGNIGY_CLIENT_SECRET": "not-the-right-secret-99"})
    harness.guard.secret("not-the-right-secret-99")
    assert result.decision is Decision.FAILED
    assert result.error is not None and result.error.type == "AuthError"
    assert emu.state.requests_for("startTraining") == []


def test_no_predict_endpoint_falls_back_to_thresholds(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    assert harness.run(config, emu, mode=Mode.PROMOTE).decision is Decision.PROMOTED
    emu.set_fault_plan(FaultPlan.of(Fault(operation="predict", kind="status", status=404)))
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert result.champion is None
    assert result.champion_note is not None and "no predict endpoint" in result.champion_note


def test_no_production_endpoint_promotes_with_a_warning(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config, Fault(operation="getProductionVersion", kind="status", status=404)
    )
    result = harness.run(config, emu, mode=Mode.PROMOTE)
    assert result.decision is Decision.PROMOTED, result.reason
    assert result.production is None
    assert any("concurrent promotion cannot be detected" in m.text for m in result.messages)


def test_service_stats_differing_from_the_committed_file_warn(harness: Harness) -> None:
    config = harness.project()
    # The tenant holds a different version of the data than the one committed.
    tenant_copy = config.parent / "tenant.yaml"
    tenant_copy.write_text(
        (config.parent / "data" / "train.yaml").read_text(encoding="utf-8")
        + "extra_intent:\n"
        + "".join(f"  - extra sentence number {i}\n" for i in range(12)),
        encoding="utf-8",
    )
    emu = harness.emulator_for({"ds-main": tenant_copy})
    result = harness.run(config, emu)
    mismatch = next(c for c in result.checks if c.check == "service_mismatch")
    assert mismatch.status is CheckStatus.WARNING
    assert any(m.level == "warning" for m in result.messages)


def test_retries_share_one_overall_timeout(harness: Harness) -> None:
    config = harness.project(
        {"training": {"timeout_minutes": 0.02, "retry_on_failure": {"attempts": 2}}}
    )
    emu = harness.emulator(
        config,
        Fault(operation="startTraining", kind="job_failed", calls=(1,)),
        Fault(operation="startTraining", kind="job_stuck", calls=(2,)),
    )
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert "did not finish within 1.2 s" in result.reason
    assert [a.status for a in result.attempts] == ["FAILED", "CANCELLED"]
    assert result.training_seconds is not None and result.training_seconds < 10


def test_a_promote_applied_but_unanswered_is_confirmed_from_production(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(
        config, Fault(operation="promoteVersion", kind="drop", when="after", calls=(1,))
    )
    result = harness.run(config, emu, mode=Mode.PROMOTE)
    assert result.decision is Decision.PROMOTED, result.reason
    assert emu.state.production["model-test"] == result.version_id
    assert len(emu.state.requests_for("promoteVersion")) == 1  # never sent twice
    assert result.promotion.message is not None and "took effect" in result.promotion.message
    assert any(m.title == "Promotion confirmed" for m in result.messages)


def test_a_promote_refused_with_a_5xx_is_not_mistaken_for_success(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="promoteVersion", kind="status", status=502))
    result = harness.run(config, emu, mode=Mode.PROMOTE)
    assert result.decision is Decision.FAILED
    assert "model-test" not in emu.state.production
    assert result.support is not None and result.support.status == 502


def test_a_broken_dataset_wins_over_a_failing_token_exchange(harness: Harness) -> None:
    # The token exchange runs while the datasets are read; the dataset error comes first.
    config = harness.project()
    emu = harness.emulator(config)
    (config.parent / "data" / "train.yaml").write_text("greet: [hello\n", encoding="utf-8")
    result = harness.run(config, emu, env={"COGNIGY_CLIENT_SECRET": "wrong-secret-for-this-test"})
    harness.guard.secret("wrong-secret-for-this-test")
    assert result.decision is Decision.INVALID
    assert result.error is not None and result.error.type == "DatasetError"


def test_a_2xx_retry_after_of_hours_is_capped_and_the_run_says_which_wait_it_refused(
    harness: Harness,
) -> None:
    """Issue 14 item 5: a status answer that asks for two hours makes the run wait no
    longer than the policy's cap, and the run's messages name the wait it refused."""
    config = harness.project({"training": {"poll_interval_floor_seconds": 0.1}})
    emu = harness.emulator(
        config,
        Fault(operation="getTrainingStatus", kind="patch", retry_after=7200.0, calls=(1,)),
        training_seconds=0.5,
        time_scale=1.0,
    )
    settings = Settings.from_env(
        harness.env(emu), config_path=config, mode=Mode.TRAIN, output_dir=harness.tmp_path / "o"
    )
    policy = RetryPolicy(read_timeout=5.0, backoff_base=0.02, max_retry_after=0.2)
    started = time.monotonic()
    result = execute(settings, ConsoleReporter(), retry_policy=policy)
    assert time.monotonic() - started < 60
    assert result.decision is Decision.APPROVED, result.reason
    [refused] = [m for m in result.messages if m.title == "Retry-After refused"]
    assert refused.level == "warning"
    assert "asked to wait 7200 s" in refused.text
    assert "waits at most 0.2 s between polls" in refused.text

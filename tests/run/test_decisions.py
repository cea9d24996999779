"""Every decision value and its exit code (DESIGN.md), from whole runs against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_trainer.audit import verify_file
from ci_trainer.decision import Decision
from ci_trainer.result import Mode, RunResult

from .conftest import Harness
from .support import noisy_training_data


def audit_records(result: RunResult) -> list[dict[str, object]]:
    assert result.audit_log is not None, result.audit_error
    report = verify_file(result.audit_log)
    assert report.ok, report
    lines = Path(result.audit_log).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_train_mode_passing_the_gate_is_approved(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert result.exit_code == 0
    assert emu.state.trainings[result.training_id or ""].status == "COMPLETED"
    assert result.status == "COMPLETED"
    assert result.version_id and result.metrics and result.metrics.f1 is not None
    assert result.promotion.attempted is False
    assert emu.state.production == {}  # train mode never promotes
    assert [rule.passed for rule in result.gate] == [True, True]
    assert result.champion_note and "no production version yet" in result.champion_note
    assert result.attempts[0].status_requests >= 1
    assert result.training_seconds is not None
    assert result.weakest_intents
    assert result.convergence
    [record] = audit_records(result)
    assert record["decision"] == "approved"
    assert result.audit_log == str(config.parent / "audit.log")  # relative to the config


def test_real_metrics_below_the_gate_are_rejected(harness: Harness) -> None:
    config = harness.project({"gate": {"min_f1": 0.85}}, train=noisy_training_data())
    emu = harness.emulator(config)
    result = harness.run(config, emu)
    assert result.decision is Decision.REJECTED
    assert result.exit_code == 1
    assert result.metrics and result.metrics.f1 is not None and result.metrics.f1 < 0.85
    assert result.reason.startswith(f"F1 {result.metrics.f1:.3f} < 0.850")
    assert any("F1" in reason and "< 0.850" in reason for reason in result.reasons)
    assert result.weakest_intents[0].intent in ("check_balance", "transfer_money")
    assert audit_records(result)[0]["decision"] == "rejected"


def test_a_failed_dataset_check_rejects_before_training(harness: Harness) -> None:
    config = harness.project({"validation": {"min_examples_per_intent": 50}})
    emu = harness.emulator(config)
    result = harness.run(config, emu)
    assert result.decision is Decision.REJECTED
    assert result.exit_code == 1
    assert "min_examples_per_intent" in result.reason
    assert emu.state.requests_for("startTraining") == []
    assert result.training_id is None
    assert audit_records(result)[0]["decision"] == "rejected"


def test_promote_mode_promotes_and_the_next_run_sees_it(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    first = harness.run(config, emu, mode=Mode.PROMOTE)
    assert first.decision is Decision.PROMOTED, first.reason
    assert first.exit_code == 0
    assert first.promoted and first.promotion.version_id == first.version_id
    assert emu.state.production["model-test"] == first.version_id

    second = harness.run(config, emu, mode=Mode.PROMOTE)
    assert second.production is not None
    assert second.production.version_id == first.version_id
    assert second.champion is not None  # now there is a champion to compare with
    assert second.champion.production_version_id == first.version_id
    assert second.decision is Decision.PROMOTED, second.reason
    assert emu.state.production["model-test"] == second.version_id
    records = audit_records(second)
    assert [r["decision"] for r in records] == ["promoted", "promoted"]
    assert records[1]["prevHash"] == records[0]["hash"]


def test_validate_mode_with_credentials_checks_the_service_but_never_trains(
    harness: Harness,
) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    result = harness.run(config, emu, mode=Mode.VALIDATE)
    assert result.decision is Decision.VALIDATED
    assert result.exit_code == 0
    assert result.datasets[0].service_example_count == result.datasets[0].example_count
    assert emu.state.requests_for("getDatasetStats")
    assert emu.state.requests_for("startTraining") == []


def test_validate_mode_without_credentials_checks_locally(harness: Harness) -> None:
    config = harness.project()
    result = harness.run(config, None, mode=Mode.VALIDATE)
    assert result.decision is Decision.VALIDATED
    assert result.exit_code == 0
    assert {c.check for c in result.checks} >= {"imbalance_ratio", "label_conflicts"}
    # The test data has no annotation scores: that check is skipped, with a notice.
    [notice] = result.messages
    assert (notice.level, notice.title) == ("notice", "Dataset check annotation_score")
    # The status is said once: "not checked" in the notice, "skipped" in the table.
    assert "not checked: the data carries no annotation scores" in notice.text
    assert "skipped: " not in notice.text
    [check] = [c for c in result.checks if c.check == "annotation_score"]
    assert check.message == "the data carries no annotation scores"


def test_no_credentials_in_train_mode_validates_and_skips(harness: Harness) -> None:
    config = harness.project()
    result = harness.run(config, None, mode=Mode.TRAIN)
    assert result.decision is Decision.SKIPPED
    assert result.exit_code == 0
    [notice] = [m for m in result.messages if m.title == "Training skipped"]
    assert notice.level == "notice"
    assert "forks get no secrets" in notice.text
    assert "COGNIGY_CLIENT_ID, COGNIGY_CLIENT_SECRET" in notice.text
    assert result.checks
    assert audit_records(result)[0]["decision"] == "skipped"


def test_no_credentials_still_rejects_bad_data(harness: Harness) -> None:
    config = harness.project({"validation": {"min_examples_per_intent": 50}})
    result = harness.run(config, None, mode=Mode.PROMOTE)
    assert result.decision is Decision.REJECTED


def test_a_broken_config_is_invalid_with_file_and_line(harness: Harness) -> None:
    config = harness.project({"gate": {"min_f1": 1.5, "min_fl": 0.2}})
    result = harness.run(config, None)
    assert result.decision is Decision.INVALID
    assert result.exit_code == 2
    errors = [m for m in result.messages if m.level == "error"]
    assert len(errors) == 2
    assert all(m.file == str(config) and m.line for m in errors)
    assert any("min_f1" in m.text for m in errors)
    assert any("did you mean" in m.text for m in errors)
    assert "2 problems in the config" in result.reason
    # The config could not be read, so the record goes to the default name beside it.
    assert result.audit_log == str(config.parent / "cognigy_training_audit.log")
    assert audit_records(result)[0]["decision"] == "invalid"


def test_a_missing_config_file_is_invalid(harness: Harness, tmp_path: Path) -> None:
    result = harness.run(tmp_path / "nope.yaml", None)
    assert result.decision is Decision.INVALID
    assert result.exit_code == 2
    assert result.audit_log is not None


def test_a_broken_dataset_is_invalid_with_file_and_line(harness: Harness) -> None:
    config = harness.project()
    (config.parent / "data" / "train.yaml").write_text(
        "check_balance:\n  - what is my balance\n  - {text: hello, colour: red}\n", encoding="utf-8"
    )
    result = harness.run(config, None)
    assert result.decision is Decision.INVALID
    assert result.exit_code == 2
    [error] = [m for m in result.messages if m.level == "error"]
    assert error.file is not None and error.file.endswith("train.yaml")
    assert error.line == 3


def test_a_dataset_path_escaping_the_workspace_is_invalid(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project({"datasets": [{"id": "ds-main", "path": "../../etc/passwd"}]})
    monkeypatch.chdir(config.parent)
    result = harness.run(config, None)
    assert result.decision is Decision.INVALID
    assert any(m.line for m in result.messages if m.level == "error")


def test_a_server_error_fails_with_support_information(harness: Harness) -> None:
    from ci_trainer.emulator.faults import Fault

    config = harness.project()
    emu = harness.emulator(config, Fault(operation="startTraining", kind="status", status=500))
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.exit_code == 3
    support = result.support
    assert support is not None
    assert support.status == 500
    assert support.endpoint.startswith("startTraining")
    assert support.trace_id
    assert support.dataset_ids == ["ds-main"]
    assert support.request_payload is not None
    assert support.request_payload["datasetIds"] == ["ds-main"]
    assert support.request_payload["hyperparameters"]["batchSize"] == 32
    assert support.response_body
    assert result.error is not None and result.error.type == "ApiError"
    assert audit_records(result)[0]["decision"] == "failed"


def test_an_unexpected_exception_fails_with_its_class_and_is_audited(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ci_trainer.pipeline.evaluation

    def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise ZeroDivisionError("a bug in our code")

    monkeypatch.setattr(ci_trainer.pipeline.evaluation, "weakest_intents", broken)
    config = harness.project()
    emu = harness.emulator(config)
    result = harness.run(config, emu)
    assert result.decision is Decision.FAILED
    assert result.exit_code == 3
    assert result.error is not None
    assert result.error.type == "ZeroDivisionError"
    assert "a bug in our code" in result.error.message
    assert "ci-trainer bug" in result.reason
    assert "Traceback" in harness.output()[1]  # our bug: the traceback is logged
    assert audit_records(result)[0]["decision"] == "failed"


def test_cognigy_model_id_overrides_the_config(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    result = harness.run(config, emu, env={"COGNIGY_MODEL_ID": "model-other"})
    assert result.decision is Decision.APPROVED, result.reason
    assert result.model_id == "model-other"
    assert [t.model_id for t in emu.state.trainings.values()] == ["model-other"]


def test_a_short_numeric_secret_does_not_corrupt_the_result(harness: Harness) -> None:
    from ci_trainer.backends.cognigy_v1.emulator.server import Emulator

    config = harness.project()
    # "2026" is also the year in every timestamp of the run.
    emu = Emulator.from_config(config, client_secret="2026", time_scale=0.0)
    harness.stack.enter_context(emu)
    harness.emulators.append(emu)
    harness.guard.secret("2026")
    result = harness.run(config, emu)
    assert result.decision is Decision.APPROVED, result.reason
    assert result.started_at.year >= 2024  # still a real timestamp
    assert audit_records(result)[0]["decision"] == "approved"
    harness.guard.secrets.discard("2026")  # timestamps legitimately hold the year


def test_a_model_id_that_would_leave_its_segment_makes_the_run_invalid(
    harness: Harness,
) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    result = harness.run(config, emu, env={"COGNIGY_MODEL_ID": "../other-model"})
    assert result.decision is Decision.INVALID, result.reason
    assert "COGNIGY_MODEL_ID" in result.reason
    assert not [r for r in emu.state.requests if r.operation == "startTraining"]

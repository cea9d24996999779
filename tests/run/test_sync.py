"""After the pipeline: the webhook and the audit record, on every path a run can end."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from runner_commands import parse, read_lines

from ci_trainer.audit import verify_file
from ci_trainer.decision import Decision
from ci_trainer.emulator.faults import Fault
from ci_trainer.result import Mode
from ci_trainer.webhook import verify_signature

from .conftest import Harness
from .support import WEBHOOK_SECRET


def test_the_webhook_gets_one_signed_event_with_the_decision(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    receiver = harness.receiver()
    result = harness.run(config, emu, mode=Mode.PROMOTE, receiver=receiver)
    assert result.decision is Decision.PROMOTED
    [request] = receiver.received
    event = request.json()
    assert event["decision"] == "promoted"
    assert event["trainingId"] == result.training_id
    assert event["eventId"] == result.webhook.event_id
    assert verify_signature(request.body, request.headers["X-CI-Trainer-Signature"], WEBHOOK_SECRET)
    assert result.webhook.delivered and result.webhook.signed
    assert result.webhook.target is not None and "query-secret" not in result.webhook.target
    # The audit record, written after the webhook, holds the delivery outcome.
    record = json.loads(Path(result.audit_log or "").read_text(encoding="utf-8"))
    assert json.dumps(record).count(result.webhook.event_id or "-") >= 1


def test_a_webhook_retry_keeps_the_event_id(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    receiver = harness.receiver(statuses=[503])
    result = harness.run(config, emu, receiver=receiver)
    assert result.webhook.delivered
    assert result.webhook.attempts == 2
    assert len({r.json()["eventId"] for r in receiver.received}) == 1


def test_a_webhook_down_after_promotion_keeps_the_promotion(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    receiver = harness.receiver(statuses=[410])  # final at once: keeps the test fast
    result = harness.run(config, emu, mode=Mode.PROMOTE, receiver=receiver)
    assert result.decision is Decision.PROMOTED
    assert result.exit_code == 0
    assert not result.webhook.delivered
    [warning] = [m for m in result.messages if m.title == "Webhook"]
    assert "out of sync" in warning.text
    assert emu.state.production["model-test"] == result.version_id


def test_an_invalid_config_still_syncs_and_audits(harness: Harness) -> None:
    config = harness.project({"version": 2})
    receiver = harness.receiver()
    result = harness.run(config, None, receiver=receiver)
    assert result.decision is Decision.INVALID
    assert [r.json()["decision"] for r in receiver.received] == ["invalid"]
    assert result.audit_log is not None and verify_file(result.audit_log).ok


def test_the_config_names_the_webhook_env_vars(harness: Harness) -> None:
    config = harness.project(
        {"webhook": {"url_env": "REGISTRY_HOOK", "secret_env": "REGISTRY_HOOK_KEY"}}
    )
    emu = harness.emulator(config)
    receiver = harness.receiver()
    harness.guard.secret("registry-hook-key-abcdef")
    result = harness.run(
        config,
        emu,
        env={"REGISTRY_HOOK": receiver.url, "REGISTRY_HOOK_KEY": "registry-hook-key-abcdef"},
    )
    [request] = receiver.received
    assert result.webhook.delivered
    assert verify_signature(
        request.body, request.headers["X-CI-Trainer-Signature"], "registry-hook-key-abcdef"
    )


def test_a_failed_run_is_synced_and_audited_too(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config, Fault(operation="startTraining", kind="status", status=503))
    receiver = harness.receiver()
    result = harness.run(config, emu, receiver=receiver)
    assert result.decision is Decision.FAILED
    assert receiver.received[0].json()["decision"] == "failed"
    assert result.audit_log is not None and verify_file(result.audit_log).ok


def test_audit_log_option_is_relative_to_the_working_directory(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = harness.run(config, None, mode=Mode.VALIDATE, audit_log=Path("logs/audit.jsonl"))
    assert result.audit_log is not None
    assert Path(result.audit_log).resolve() == (elsewhere / "logs" / "audit.jsonl").resolve()
    assert verify_file(elsewhere / "logs" / "audit.jsonl").ok


def test_an_audit_path_leaving_the_workspace_is_invalid_and_audited_beside_the_config(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pull request controls the config: it must not make the action write elsewhere.
    config = harness.project({"audit": {"path": "../../outside.log"}})
    monkeypatch.chdir(config.parent)
    result = harness.run(config, None, mode=Mode.VALIDATE)
    assert result.decision is Decision.INVALID
    assert any(m.line and "audit.path" in m.text for m in result.messages)
    assert result.audit_log == str(config.parent / "cognigy_training_audit.log")
    assert not (config.parent.parent.parent / "outside.log").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_audit_path_falls_back_and_says_so(harness: Harness, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        config = harness.project()
        result = harness.run(config, None, mode=Mode.VALIDATE, audit_log=locked / "a.log")
    finally:
        locked.chmod(0o700)
    assert result.audit_error
    assert result.audit_log is not None and result.audit_log.startswith(str(tmp_path / "out"))


def test_an_audit_path_that_is_a_directory_falls_back_and_says_so(
    harness: Harness, tmp_path: Path
) -> None:
    config = harness.project()
    directory = tmp_path / "is-a-dir"
    directory.mkdir()
    result = harness.run(config, None, mode=Mode.VALIDATE, audit_log=directory)
    assert result.audit_error
    assert result.audit_log is not None
    assert Path(result.audit_log).parent == tmp_path / "out"  # the output dir is the fallback
    assert verify_file(result.audit_log).ok
    assert any(m.title == "Audit log" for m in result.messages)


def test_every_run_chains_onto_the_same_log(harness: Harness) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    decisions = [
        harness.run(config, emu, mode=mode).decision
        for mode in (Mode.VALIDATE, Mode.TRAIN, Mode.PROMOTE)
    ]
    assert decisions == [Decision.VALIDATED, Decision.APPROVED, Decision.PROMOTED]
    report = verify_file(config.parent / "audit.log")
    assert report.ok
    lines = (config.parent / "audit.log").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["mode"] for line in lines] == ["validate", "train", "promote"]


def test_a_bug_around_the_webhook_is_logged_without_commands_or_secrets(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14 item 7: the traceback of a bug in the webhook sync is logged redacted and
    neutralised, and the audit record is still written."""
    import ci_trainer.run

    secret = "sync-bug-secret-7a1c"

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"sync bug\n::set-output name=decision::promoted {secret}")

    monkeypatch.setattr(ci_trainer.run, "sync_webhook", explode)
    config = harness.project()
    with caplog.at_level(logging.ERROR, logger="ci_trainer"):
        result = harness.run(
            config, None, mode=Mode.VALIDATE, env={"COGNIGY_CLIENT_SECRET": secret}
        )
    assert result.audit_log is not None
    [logged] = [r.getMessage() for r in caplog.records if "webhook sync failed" in r.getMessage()]
    assert "Traceback (most recent call last)" in logged and "sync bug" in logged
    assert secret not in logged
    assert all(parse(line) is None for line in read_lines(logged))

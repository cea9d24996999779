"""A run that fails before the pipeline starts ends like one that fails inside it.

Bad action inputs and an unreadable config go through the same lifecycle as a dataset
the pipeline cannot use: the same audit record (same fields, same wording), and the
same webhook event, delivered to a real local receiver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_trainer import action
from ci_trainer.audit import verify_file

from .conftest import Harness
from .support import WEBHOOK_SECRET, WebhookReceiver


def action_env(tmp_path: Path, receiver: WebhookReceiver, **inputs: str) -> dict[str, str]:
    files = tmp_path / "file_commands"
    files.mkdir(exist_ok=True)
    (files / "out").write_text("", encoding="utf-8")
    (files / "summary").write_text("", encoding="utf-8")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(files / "out"),
        "GITHUB_STEP_SUMMARY": str(files / "summary"),
        "INPUT_WEBHOOK-URL": receiver.url,
        "INPUT_WEBHOOK-SECRET": WEBHOOK_SECRET,
    }
    for name, value in inputs.items():
        env[f"INPUT_{name.upper().replace('_', '-')}"] = value
    return env


def the_record(path: Path) -> dict[str, Any]:
    report = verify_file(path)
    assert report.ok, report
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record: dict[str, Any] = json.loads(lines[0])
    return record


def run_action(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, **inputs: str
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """The action's exit code, its audit record and the one webhook event it sent."""
    tmp_path = harness.tmp_path
    receiver = harness.receiver()
    monkeypatch.chdir(tmp_path)
    code = action.main(action_env(tmp_path, receiver, **inputs))
    assert len(receiver.received) == 1
    record = the_record(tmp_path / "audit.log")
    assert record["webhook"]["delivered"] and record["webhook"]["signed"]
    return code, record, receiver.received[0].json()


def late_dataset_failure(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """The reference: the config reads, the pipeline finds the dataset unusable."""
    config = harness.project()
    (config.parent / "data" / "train.yaml").write_text("- not\n- a mapping\n", encoding="utf-8")
    return run_action(harness, monkeypatch)


def early_bad_input(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    harness.project()
    return run_action(harness, monkeypatch, mode="bogus", audit_log="audit.log")


def early_unreadable_config(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    harness.project()
    (harness.tmp_path / "broken.yaml").write_text("version: [1\n", encoding="utf-8")
    return run_action(harness, monkeypatch, config="broken.yaml", audit_log="audit.log")


@pytest.mark.parametrize("early", [early_bad_input, early_unreadable_config])
def test_an_early_failure_is_audited_and_announced_like_a_late_one(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    early: Any,
) -> None:
    code, record, event = early(harness, monkeypatch)
    late_harness_root = tmp_path_factory.mktemp("late")
    late = Harness(late_harness_root, harness.stack, harness.guard, harness.capfd)
    late_code, late_record, late_event = late_dataset_failure(late, monkeypatch)
    harness.receivers += late.receivers  # the leak guard reads what they received

    assert code == late_code == 2
    # The same record: every field a late failure has, the same decision and wording.
    assert set(record) == set(late_record)
    assert record["decision"] == late_record["decision"] == "invalid"
    assert record["error"].keys() == late_record["error"].keys()
    assert record["reason"].startswith("1 problem in ")
    assert record["reasons"] and late_record["reasons"]
    for entry in (record, late_record):
        messages = entry["messages"]
        assert messages and all(m["level"] == "error" for m in messages)
        assert entry["reason"].endswith(entry["reasons"][0])
    # The same webhook event.
    assert set(event) == set(late_event)
    assert event["event"] == late_event["event"]
    assert event["decision"] == "invalid"
    assert (event["auditId"], late_event["auditId"]) == (record["auditId"], late_record["auditId"])


def test_a_bad_input_reads_like_a_config_problem(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, record, event = early_bad_input(harness, monkeypatch)
    assert record["reason"] == (
        "1 problem in the action's inputs: mode: must be one of validate, train, promote, "
        "got 'bogus' (use one of validate, train, promote)"
    )
    assert event["reason"] == record["reason"]
    # The error names what was wrong: the inputs, not a config file.
    assert record["error"]["message"].startswith("1 problem in the action's inputs:\n")
    out, _ = harness.output()
    assert "::error title=input mode::mode: must be one of" in out


def test_an_unreadable_config_reads_like_a_config_problem(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, record, _ = early_unreadable_config(harness, monkeypatch)
    assert record["reason"].startswith("1 problem in the config: broken.yaml:")
    out, _ = harness.output()
    assert "::error file=broken.yaml,line=" in out

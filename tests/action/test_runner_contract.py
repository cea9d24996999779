"""entrypoint.py run the way the GitHub runner runs a container action, against the emulator.

Inputs come from action.yml's defaults plus the step's `with:` values as INPUT_*; the
outputs are read back from GITHUB_OUTPUT by the runner's own rules.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from junit_schema import outcomes, valid_report
from mini_workspace import (
    CLIENT_ID,
    CLIENT_SECRET,
    StepRun,
    finish_step,
    make_workspace,
    run_step,
    start_step,
    write_config,
)
from mini_workspace import config as workspace_config

pytest.importorskip("werkzeug")  # the emulator extra
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.faults import Fault, FaultPlan

EXPECTED_OUTPUTS = {
    "decision", "promoted", "status", "training-id", "version-id", "f1", "precision",
    "recall", "reason", "metrics", "audit-log", "intents-export", "summary", "audit-hash",
    "verdict", "junit", "predictions",
}  # fmt: skip


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "workspace")


def serve(workspace: Path, fault_plan: FaultPlan | None = None) -> Emulator:
    return Emulator.from_config(
        workspace / "training-config.yaml",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        training_seconds=0.3,
        fault_plan=fault_plan,
    )


@pytest.fixture
def emulator(workspace: Path) -> Iterator[Emulator]:
    with serve(workspace) as running:
        yield running


def step(workspace: Path, emulator: Emulator, **inputs: str) -> StepRun:
    given = {"base-url": emulator.base_url, "client-id": CLIENT_ID, "client-secret": CLIENT_SECRET}
    given.update(inputs)
    return run_step(workspace, workspace.parent / "runner", **given)


def assert_clean(run: StepRun) -> None:
    """Same outputs every time, the secret nowhere, masks before anything else."""
    assert set(run.outputs) == EXPECTED_OUTPUTS
    assert CLIENT_SECRET not in run.everything()
    assert run.stdout.splitlines()[0] == f"::add-mask::{CLIENT_SECRET}"
    assert "Traceback" not in run.stderr


def test_approved(workspace: Path, emulator: Emulator) -> None:
    run = step(workspace, emulator)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["decision"] == "approved"
    assert run.outputs["promoted"] == "false"
    assert run.outputs["status"] == "COMPLETED"
    assert run.outputs["training-id"] and run.outputs["version-id"]
    assert 0.5 <= float(run.outputs["f1"]) <= 1.0
    metrics = json.loads(run.outputs["metrics"])
    assert metrics["candidate"]["f1"] == float(run.outputs["f1"])
    assert run.outputs["audit-log"] == "audit/training-audit.log"  # relative to the workspace
    assert (workspace / run.outputs["audit-log"]).is_file()
    assert run.summary.startswith("## ✅ Approved · model shop-nlu")
    assert "### Metrics" in run.summary and "### Dataset checks" in run.summary
    assert "::group::" in run.stdout
    assert f"::notice title=ci-trainer%3A approved::{run.outputs['reason']}" in run.stdout
    assert_clean(run)


def test_rejected_fails_the_step_unless_fail_on_reject_is_false(
    workspace: Path, emulator: Emulator
) -> None:
    write_config(workspace, make_config(min_f1=0.999))
    run = step(workspace, emulator)
    assert run.exit_code == 1
    assert run.outputs["decision"] == "rejected"
    assert "< 0.999" in run.outputs["reason"]
    # one annotation carries the decision to the pull request's checks
    decision_lines = [line for line in run.stdout.splitlines() if "title=ci-trainer%3A" in line]
    assert decision_lines == [f"::error title=ci-trainer%3A rejected::{run.outputs['reason']}"]
    assert run.summary.startswith("## ❌ Rejected")
    assert "❌ fail" in run.summary
    assert_clean(run)

    again = step(workspace, emulator, **{"fail-on-reject": "false"})
    assert again.exit_code == 0
    assert again.outputs["decision"] == "rejected"


def make_config(**gate: float) -> dict[str, object]:
    from mini_workspace import config

    return config(**gate)


def test_invalid_config_points_at_file_and_line(workspace: Path, emulator: Emulator) -> None:
    text = (workspace / "training-config.yaml").read_text(encoding="utf-8")
    write_config(workspace, text.replace("validation_split: 0.2", "validation_split: 0.9"))
    line = next(
        number
        for number, content in enumerate(text.splitlines(), start=1)
        if "validation_split" in content
    )
    run = step(workspace, emulator)
    assert run.exit_code == 2
    assert run.outputs["decision"] == "invalid"
    annotations = [entry for entry in run.stdout.splitlines() if entry.startswith("::error ")]
    assert any("file=training-config.yaml" in a and f"line={line}," in a for a in annotations), (
        annotations
    )
    assert run.summary.startswith("## ⚠️ Invalid")
    assert f"training-config.yaml:{line}" in run.summary
    assert_clean(run)


def test_failed_service_keeps_support_details(workspace: Path) -> None:
    plan = FaultPlan.of(Fault(operation="startTraining", kind="status", status=500))
    with serve(workspace, plan) as emulator:
        run = step(workspace, emulator)
    assert run.exit_code == 3
    assert run.outputs["decision"] == "failed"
    assert run.outputs["training-id"] == ""
    assert "### Troubleshooting" in run.summary
    assert_clean(run)


def test_missing_credentials_skip_training_with_one_notice(
    workspace: Path, emulator: Emulator
) -> None:
    run = run_step(workspace, workspace.parent / "runner", mode="train")
    assert run.exit_code == 0
    assert run.outputs["decision"] == "skipped"
    notices = [line for line in run.stdout.splitlines() if line.startswith("::notice")]
    why = [line for line in notices if "fork" in line.lower()]
    assert len(why) == 1, notices  # one notice says why (other notices: dataset checks)
    assert "title=Training skipped" in why[0]
    assert (workspace / run.outputs["audit-log"]).is_file()  # a skipped run is audited too
    assert emulator.state.trainings_for("shop-nlu") == []


def test_promote_mode_promotes(workspace: Path, emulator: Emulator) -> None:
    run = step(workspace, emulator, mode="promote")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["decision"] == "promoted"
    assert run.outputs["promoted"] == "true"
    assert run.summary.startswith("## 🚀 Promoted")
    assert run.outputs["predictions"] == ""  # nothing in production to compare with yet
    assert_clean(run)

    # The next run compares with the promoted model on a holdout: its predictions file
    # lies beside the audit log, named by its path in the workspace (what
    # upload-artifact resolves).
    holdout = {
        "track_order": ["where is my parcel kindly", "has my package shipped kindly"],
        "cancel_order": ["cancel my order kindly", "stop the purchase kindly"],
        "refund": ["give me my money back kindly", "refund the payment kindly"],
        "opening_hours": ["when do you open kindly", "what are your hours kindly"],
    }
    (workspace / "datasets" / "holdout.yaml").write_text(yaml.safe_dump(holdout), encoding="utf-8")
    write_config(workspace, {**workspace_config(), "holdout": {"path": "datasets/holdout.yaml"}})
    second = step(workspace, emulator)
    assert second.exit_code == 0, second.stdout + second.stderr
    assert second.outputs["predictions"] == "audit/training-audit.predictions.jsonl"
    lines = (workspace / second.outputs["predictions"]).read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line)["text"] for line in lines)
    assert "### Utterances that flipped" in second.summary
    assert_clean(second)


def test_working_directory_and_relative_audit_log(tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    make_workspace(root / "models" / "shop")
    with serve(root / "models" / "shop") as emulator:
        given = {
            "base-url": emulator.base_url,
            "client-id": CLIENT_ID,
            "client-secret": CLIENT_SECRET,
            "working-directory": "models/shop",
        }
        run = run_step(root, tmp_path / "runner", **given)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["audit-log"] == "models/shop/audit/training-audit.log"
    assert (root / run.outputs["audit-log"]).is_file()


def test_annotations_name_files_by_their_path_in_the_repository(tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    folder = make_workspace(root / "models" / "shop")
    text = (folder / "training-config.yaml").read_text(encoding="utf-8")
    write_config(folder, text.replace("validation_split: 0.2", "validation_split: 0.9"))
    run = run_step(root, tmp_path / "runner", **{"working-directory": "models/shop"})
    assert run.exit_code == 2
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error ")]
    assert errors and all("file=models/shop/training-config.yaml," in line for line in errors)


def test_runner_cancellation_cancels_the_remote_job_and_still_reports(workspace: Path) -> None:
    """The runner cancels a step with SIGINT (then SIGTERM 7.5 s later, then SIGKILL)."""
    plan = FaultPlan.of(Fault(operation="startTraining", kind="job_stuck"))
    with serve(workspace, plan) as emulator:
        given = {
            "base-url": emulator.base_url,
            "client-id": CLIENT_ID,
            "client-secret": CLIENT_SECRET,
        }
        process, files = start_step(workspace, workspace.parent / "runner", **given)
        deadline = time.monotonic() + 30
        while not emulator.state.trainings_for("shop-nlu") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert emulator.state.trainings_for("shop-nlu"), "the training never started"
        process.send_signal(signal.SIGINT)
        run = finish_step(process, files, workspace, timeout=7.5)  # before the SIGTERM
        trainings = emulator.state.trainings_for("shop-nlu")
    assert run.exit_code == 3
    assert run.outputs["decision"] == "failed"
    assert run.outputs["training-id"] == trainings[0].training_id
    assert trainings[0].status == "CANCELLED"
    assert (workspace / run.outputs["audit-log"]).is_file()
    assert run.summary.startswith("## 💥 Failed")
    assert_clean(run)


def test_validate_mode_needs_no_service(workspace: Path) -> None:
    run = run_step(workspace, workspace.parent / "runner", mode="validate", junit="junit.xml")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["decision"] == "validated"
    assert run.outputs["junit"] == "junit.xml"
    assert outcomes(valid_report(workspace / "junit.xml"))[("run", "decision")] == "passed"
    assert run.outputs["training-id"] == ""
    assert run.outputs["f1"] == ""
    assert (workspace / run.outputs["audit-log"]).is_file()
    assert "### Dataset checks" in run.summary

"""Outputs name where everything went (issue 15, item 4): the console's last lines name
the summary, the outputs and the audit log, and the `audit-hash` output is the full hash
of this run's record, the one the audit schema tells auditors to compare."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from ci_trainer.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_")):
            monkeypatch.delenv(name)
    shutil.copy(REPO / "training-config.yaml", tmp_path / "training-config.yaml")
    shutil.copytree(REPO / "datasets", tmp_path / "datasets")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def recipe_hash(record: dict[str, object]) -> str:
    """The schema description's own recipe, verbatim."""
    body = {k: v for k, v in record.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_audit_hash_output_is_the_full_hash_of_this_runs_record(
    sample: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):  # the second run's record is chained after the first
        assert main(["validate", "--output-dir", "out", "--audit-log", "audit.log"]) == 0
    capfd.readouterr()
    outputs = json.loads((sample / "out" / "outputs.json").read_text(encoding="utf-8"))
    last = json.loads((sample / "audit.log").read_text(encoding="utf-8").splitlines()[-1])
    assert outputs["audit-hash"] == last["hash"] == recipe_hash(last)
    assert len(outputs["audit-hash"]) == 64
    assert last["auditId"] in (sample / "out" / "summary.md").read_text(encoding="utf-8")


def test_the_console_ends_by_naming_the_summary_outputs_and_audit_log(
    sample: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--output-dir", "out", "--audit-log", "audit.log"]) == 0
    out, _ = capfd.readouterr()
    record_hash = json.loads((sample / "audit.log").read_text(encoding="utf-8"))["hash"]
    assert out.splitlines()[-4:] == [
        f"summary: {Path('out') / 'summary.md'}",
        f"outputs: {Path('out') / 'outputs.json'}",
        f"audit log: audit.log (record hash {record_hash})",
        "ci-trainer: validated - the config and datasets passed validation",
    ]

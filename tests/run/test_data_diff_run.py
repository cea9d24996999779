"""A whole `ci-trainer run --emulator --base main` on a constructed repository: the
data diff in the step summary next to the holdout recall, its counts and base commit in
the audit record (valid against the schema) and in the webhook event, and no texts in
either (issue 16 item 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from git_repos import (
    DATASET,
    HOLDOUT,
    base_and_pull_request,
    edit_yaml,
    isolate_from_ci,
    needs_git,
    shallow_clone,
)

from ci_trainer import audit
from ci_trainer.cli import main

from .conftest import Harness
from .support import WEBHOOK_SECRET

NEW_RETURN_TEXTS = [
    "I want to send back the shoes I got",
    "how can I return the lamp",
    "return this blender please",
    "the jacket does not fit, I want to return it",
    "start a return for my last order",
    "can I give back the headphones",
]


def pull_request(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["return_item"] += NEW_RETURN_TEXTS
        del data["cancel_order"][:3]

    edit_yaml(project, DATASET, change)
    edit_yaml(project, HOLDOUT, lambda d: d["return_item"].append("I'd like to return my kettle"))


@needs_git
def test_a_run_shows_the_data_diff_in_the_summary_audit_and_webhook(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_from_ci(monkeypatch, tmp_path)
    project = tmp_path / "project"
    base, _ = base_and_pull_request(project, pull_request)
    receiver = harness.receiver()
    monkeypatch.setenv("WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.chdir(project)

    code = main(
        ["run", "--config", "training-config.yaml", "--emulator", "--base", "main",
         "--output-dir", "out"]
    )  # fmt: skip
    _, err = harness.output()
    assert code in (0, 1), err
    assert f"data diff against main (merge base {base[:12]})" in err
    summary = (project / "out" / "summary.md").read_text(encoding="utf-8")
    section = summary.split("### Data diff against the base", 1)[1].split("\n### ", 1)[0]
    assert "| Intent | Examples | Holdout recall |" in section
    [row] = [line for line in section.splitlines() if line.startswith("| return\\_item |")]
    assert "+6 \u22120 (40 → 46)" in row and " → " in row.rsplit("|", 2)[1]
    assert any(line.startswith("| cancel\\_order | +0 \u22123") for line in section.splitlines())
    assert "The holdout datasets/holdout.yaml changed since the base" in section

    lines = (project / "cognigy_training_audit.log").read_text(encoding="utf-8").splitlines()
    [record] = [json.loads(line) for line in lines]
    assert audit.schema_problem(record) is None
    diff = record["dataDiff"]
    assert (diff["baseRef"], diff["baseCommit"], diff["unavailable"]) == ("main", base, None)
    [shop] = [d for d in diff["datasets"] if d["path"] == DATASET]
    assert (shop["examplesAddedCount"], shop["examplesRemovedCount"]) == (6, 3)
    counts = {i["intent"]: (i["addedCount"], i["removedCount"]) for i in shop["intents"]}
    assert counts == {"return_item": (6, 0), "cancel_order": (0, 3)}
    assert diff["holdout"]["examplesAddedCount"] == 1
    record_text = json.dumps(record)
    assert not any(text in record_text for text in NEW_RETURN_TEXTS)

    [delivery] = receiver.received
    event = json.loads(delivery.body)
    assert event["dataDiff"]["baseCommit"] == base
    [shop_event] = [
        d for d in event["dataDiff"]["datasets"] if d["datasetId"] == "ds-customer-service"
    ]
    assert (shop_event["examplesAdded"], shop_event["examplesRemoved"]) == (6, 3)
    assert NEW_RETURN_TEXTS[0] not in delivery.body.decode("utf-8")


@needs_git
def test_a_shallow_pull_request_checkout_validates_as_before_with_the_one_line(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_from_ci(monkeypatch, tmp_path)
    origin = tmp_path / "origin"
    base_and_pull_request(origin, pull_request)
    clone = tmp_path / "clone"
    shallow_clone(origin, clone)
    # What a pull_request run on Actions sees (the one-commit checkout of actions/checkout).
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    monkeypatch.chdir(clone)

    code = main(["validate", "--config", "training-config.yaml", "--output-dir", "out"])
    _, err = harness.output()
    assert code == 0, err  # the missing diff changes nothing
    assert "no data diff against main: neither origin/main nor main is in this clone" in err
    summary = (clone / "out" / "summary.md").read_text(encoding="utf-8")
    section = summary.split("### Data diff against the base\n\n", 1)[1].split("\n\n", 1)[0]
    assert section.startswith("No data diff against main: neither origin/main nor main")
    assert "To get it: set fetch-depth: 0 on actions/checkout" in section
    lines = (clone / "cognigy_training_audit.log").read_text(encoding="utf-8").splitlines()
    [record] = [json.loads(line) for line in lines]
    assert audit.schema_problem(record) is None
    assert record["decision"] == "validated"
    assert record["dataDiff"]["requestedBy"] == "GITHUB_BASE_REF"
    assert record["dataDiff"]["baseCommit"] is None
    assert "in this clone" in record["dataDiff"]["unavailable"]

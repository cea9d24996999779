"""Every finding with a file and line is an annotation there (issue 17 item 4), within
GitHub's cap of 10 per kind and step: nine one by one, then one that counts the rest.

Each test runs `ci-trainer` as the action's step does (GITHUB_* set) and reads its stdout
with the runner's workflow-command rules (tests/github/runner_commands.py).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import yaml
from runner_commands import Command, Runner

from ci_trainer.cli import main

INTENTS = ["track_order", "cancel_order", "reset_password", "close_account"]


@pytest.fixture
def actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder as the step's workspace, with the runner's files."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_")):
            monkeypatch.delenv(name)
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "github-output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def annotations(stdout: str, kind: str) -> list[Command]:
    return [command for command in Runner().feed(stdout) if command.name == kind]


def corpus(seed: int = 7) -> dict[str, dict[str, list[str]]]:
    """Four intents, each with words of its own: training and holdout utterances never
    repeat, so no dataset check fails and the holdout is big enough (40 per intent) for
    one intent's loss to be significant after Holm."""
    rng = random.Random(seed)
    words = {intent: [f"{intent[:3]}{n}" for n in range(25)] for intent in INTENTS}
    seen: set[str] = set()

    def utterances(intent: str, count: int) -> list[str]:
        out: list[str] = []
        while len(out) < count:
            text = " ".join(rng.sample(words[intent], 4))
            if text not in seen:
                seen.add(text)
                out.append(text)
        return out

    train = {intent: utterances(intent, 30) for intent in INTENTS}
    holdout = {intent: utterances(intent, 40) for intent in INTENTS}
    # What the broken commit trains cancel_order on: track_order's words, new sentences.
    broken = {**train, "cancel_order": utterances("track_order", 30)}
    return {"train": train, "holdout": holdout, "broken": broken}


def write_project(root: Path, train: dict[str, list[str]], holdout: dict[str, list[str]]) -> None:
    (root / "datasets").mkdir(exist_ok=True)
    (root / "datasets" / "train.yaml").write_text(yaml.safe_dump(train), encoding="utf-8")
    (root / "datasets" / "holdout.yaml").write_text(yaml.safe_dump(holdout), encoding="utf-8")
    config = {
        "version": 1,
        "model": {"id": "shop-assistant"},
        "datasets": [{"id": "ds-shop", "path": "datasets/train.yaml"}],
        "holdout": {"path": "datasets/holdout.yaml"},
        "training": {"poll_interval_floor_seconds": 1},
        "gate": {"min_f1": 0.0, "min_precision": 0.0, "per_intent": {"min_f1": 0.0}},
    }
    (root / "training-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def run(mode: str) -> int:
    return main(["run", "--emulator", "--mode", mode, "--audit-log", "audit.log"])


def test_a_regressed_intent_is_an_error_at_its_first_training_example(
    actions: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = corpus()
    write_project(actions, data["train"], data["holdout"])
    assert run("promote") == 0, capfd.readouterr()
    capfd.readouterr()

    write_project(actions, data["broken"], data["holdout"])
    code = run("train")
    out, _err = capfd.readouterr()

    assert code == 1  # rejected
    lines = (actions / "datasets" / "train.yaml").read_text(encoding="utf-8").splitlines()

    def first_example(intent: str) -> str:
        return str(lines.index(f"{intent}:") + 2)  # the line after the intent's key

    located = [
        a
        for a in annotations(out, "error")
        if a.properties.get("title", "").startswith("Regressed intent ")
    ]
    recall = [a for a in located if " recall " in a.data]
    assert recall[0].properties == {
        "file": "datasets/train.yaml",
        "line": first_example("cancel_order"),
        "title": "Regressed intent cancel_order",
    }
    assert recall[0].data.startswith("'cancel_order' recall 1.000 -> 0.000 (Holm-adjusted p")
    assert recall[0].data.endswith(
        "significantly worse than production on the holdout datasets/holdout.yaml; "
        "this is the intent's first training example"
    )
    # Every regressed intent the record names, recall and precision, at its own first line.
    record = json.loads((actions / "audit.log").read_text("utf-8").splitlines()[-1])
    named = record["champion"]["intentsWorse"] + record["champion"]["precisionWorse"]
    assert [a.properties["title"].removeprefix("Regressed intent ") for a in located] == named
    for annotation in located:
        intent = annotation.properties["title"].removeprefix("Regressed intent ")
        assert annotation.properties["line"] == first_example(intent), intent
    # The same finding, with its place, in the step summary's problems.
    summary = (actions / "step-summary.md").read_text(encoding="utf-8")
    line = first_example("cancel_order")
    assert f"| datasets/train.yaml:{line} | Regressed intent cancel\\_order: " in summary


def test_twelve_located_errors_show_nine_and_one_that_counts_the_rest(
    actions: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = corpus()
    train = {**data["train"]}
    train["track_order"] = train["track_order"] + [train["track_order"][0]] * 12  # repeats
    write_project(actions, train, data["holdout"])
    code = main(["validate", "--audit-log", "audit.log"])
    out, _err = capfd.readouterr()

    assert code == 1
    errors = annotations(out, "error")
    assert len(errors) == 10  # GitHub's cap
    lines = (actions / "datasets" / "train.yaml").read_text(encoding="utf-8").splitlines()
    repeated = f"- {train['track_order'][0]}"
    repeats = [n for n, line in enumerate(lines, 1) if line.strip() == repeated][1:]
    assert [(e.properties.get("file"), e.properties.get("line")) for e in errors[:9]] == [
        ("datasets/train.yaml", str(line)) for line in repeats[:9]
    ]
    last = errors[9]
    # The check points at its first 10 repeats and counts the other 2: 11 errors, so
    # the tenth slot counts the two past nine, and both are in the log.
    assert last.properties == {"title": "2 more errors"}
    assert last.data == "2 more errors: see the step summary (each is also in this step's log)"
    log = out.splitlines()
    assert any(row.startswith(f"error: datasets/train.yaml:{repeats[9]}: ") for row in log)
    assert any(
        row.startswith("error: 2 more for duplicate_examples than shown here") for row in log
    )
    summary = (actions / "step-summary.md").read_text(encoding="utf-8")
    assert summary.count("| datasets/train.yaml:") >= 10


def test_config_problems_are_errors_at_their_line_and_column(
    actions: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = corpus()
    write_project(actions, data["train"], data["holdout"])
    config = actions / "training-config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("min_f1: 0.0\n", "min_f1: 7\n", 1), encoding="utf-8")
    line = next(
        n
        for n, row in enumerate(config.read_text("utf-8").splitlines(), 1)
        if row.strip() == "min_f1: 7"
    )
    code = main(["validate", "--audit-log", "audit.log"])
    out, _err = capfd.readouterr()

    assert code == 2  # invalid
    [error] = [e for e in annotations(out, "error") if e.properties.get("file")]
    assert error.properties["file"] == "training-config.yaml"
    assert error.properties["line"] == str(line)
    assert error.properties["col"] == str(
        config.read_text("utf-8").splitlines()[line - 1].index("7") + 1
    )
    assert error.properties["title"] == "Invalid training config"
    assert error.data.startswith("gate.min_f1: ")

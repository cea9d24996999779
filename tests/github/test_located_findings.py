"""Dataset findings say where (issue 15, items 1 and 2).

A label conflict, a holdout leak or a repeated example is shown at its file and line on
the console, as an annotation the runner attaches to that line, and in the step summary;
the first 10 one by one, then how many more. Each test edits a copy of the committed
sample the way the issue's repro does and runs `ci-trainer validate` (no service needed).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cmarkgfm
import pytest
from runner_commands import Command, Runner

from ci_trainer.cli import main

REPO = Path(__file__).resolve().parents[2]
DATA = "datasets/customer_service.yaml"
CANCEL = '  - {text: "cancel my purchase", score: 0.97}'  # a cancel_order example of the sample
HOLDOUT = "datasets/holdout.yaml"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    root: Path

    def summary(self) -> str:
        """The step summary as GitHub renders it (HTML), wherever this run wrote it."""
        on_actions = self.root / "step-summary.md"
        path = on_actions if on_actions.exists() else self.root / "out" / "summary.md"
        return cmarkgfm.github_flavored_markdown_to_html(path.read_text(encoding="utf-8"))

    def annotations(self, kind: str) -> list[Command]:
        return [command for command in Runner().feed(self.stdout) if command.name == kind]

    def check(self, name: str) -> dict[str, object]:
        record = json.loads((self.root / "audit.log").read_text(encoding="utf-8").splitlines()[-1])
        [found] = [check for check in record["checks"] if check["check"] == name]
        return dict(found)


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample config and datasets, the current folder, with no CI variables."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_")):
            monkeypatch.delenv(name)
    shutil.copy(REPO / "training-config.yaml", tmp_path / "training-config.yaml")
    shutil.copytree(REPO / "datasets", tmp_path / "datasets")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def add_lines(root: Path, file: str, after: str, *lines: str) -> int:
    """Insert `lines` after the line `after`; returns the 1-based line of the first one."""
    path = root / file
    text = path.read_text(encoding="utf-8").split("\n")
    at = text.index(after) + 1
    text[at:at] = list(lines)
    path.write_text("\n".join(text), encoding="utf-8")
    return at + 1


def line_of(root: Path, file: str, text: str) -> int:
    lines = (root / file).read_text(encoding="utf-8").split("\n")
    return next(number for number, line in enumerate(lines, 1) if text in line)


def validate(
    root: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *, actions: bool
) -> Run:
    if actions:
        for name, value in {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(root),
            "GITHUB_OUTPUT": str(root / "github-output"),
            "GITHUB_STEP_SUMMARY": str(root / "step-summary.md"),
        }.items():
            monkeypatch.setenv(name, value)
    code = main(["validate", "--output-dir", "out", "--audit-log", "audit.log"])
    out, err = capfd.readouterr()
    return Run(code, out, err, root)


def test_a_label_conflict_is_shown_at_both_lines_on_the_console_and_in_the_summary(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The repro: "Where is my order?" is a track_order example; add it to cancel_order.
    added = add_lines(sample, DATA, "cancel_order:", '  - "Where is my order?"')
    first = line_of(sample, DATA, '{text: "Where is my order?"')
    run = validate(sample, capfd, monkeypatch, actions=False)

    assert run.code == 1
    expected = (
        f"error: {DATA}:{added}: 'Where is my order?' is under cancel_order here and under "
        f"track_order at {DATA}:{first}"
    )
    assert expected in run.stderr.splitlines()
    page = run.summary()
    assert f"<td>datasets/customer_service.yaml:{added}</td>" in page.replace("\\_", "_")
    assert f"track_order at datasets/customer_service.yaml:{first}" in page.replace("\\_", "_")
    # The record keeps the places too, as data.
    assert run.check("label_conflicts")["locations"] == [
        {
            "file": DATA,
            "line": added,
            "text": f"'Where is my order?' is under cancel_order here and under "
            f"track_order at {DATA}:{first}",
        }
    ]


def test_a_label_conflict_is_an_annotation_on_its_line(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    added = add_lines(sample, DATA, "cancel_order:", '  - "Where is my order?"')
    run = validate(sample, capfd, monkeypatch, actions=True)

    located = [a for a in run.annotations("error") if a.properties.get("file")]
    assert [(a.properties["file"], a.properties["line"]) for a in located] == [(DATA, str(added))]
    assert located[0].properties["title"] == "Dataset check label_conflicts"
    assert "under track_order at datasets/customer_service.yaml:" in located[0].data
    assert "<td>datasets/customer_service.yaml:" in run.summary().replace("\\_", "_")


def test_a_holdout_leak_points_at_the_holdout_line_and_the_training_line(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    leaked = add_lines(sample, HOLDOUT, "track_order:", '  - "track order"')
    trained = line_of(sample, DATA, '- "track order"')
    run = validate(sample, capfd, monkeypatch, actions=True)

    [annotation] = [a for a in run.annotations("error") if a.properties.get("file") == HOLDOUT]
    assert annotation.properties["line"] == str(leaked)
    assert annotation.data == (
        f"holdout utterance 'track order' (track_order) is also in the training data at "
        f"{DATA}:{trained} (track_order)"
    )


def test_a_repeated_example_fails_the_duplicate_check_at_its_line(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Item 2: the same example twice under one intent (472 -> 473 examples) passed silently.
    repeat = add_lines(sample, DATA, CANCEL, '  - "cancel my purchase"')
    first = line_of(sample, DATA, '{text: "cancel my purchase"')
    run = validate(sample, capfd, monkeypatch, actions=False)

    assert run.code == 1
    assert "473 examples" in run.stderr
    check = run.check("duplicate_examples")
    assert (check["status"], check["value"], check["threshold"]) == ("failed", 1, 0)
    assert (
        f"error: {DATA}:{repeat}: 'cancel my purchase' is already under cancel_order at "
        f"{DATA}:{first}"
    ) in run.stderr.splitlines()
    assert "ci-trainer: rejected - dataset check duplicate_examples failed: 1 duplicate" in (
        run.stdout
    )


def test_the_duplicate_threshold_lets_a_known_number_of_repeats_pass(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_lines(sample, DATA, CANCEL, '  - "cancel my purchase"')
    config = sample / "training-config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("max_duplicate_examples: 0", "max_duplicate_examples: 1"), encoding="utf-8"
    )
    run = validate(sample, capfd, monkeypatch, actions=False)

    assert run.code == 0, run.stderr
    check = run.check("duplicate_examples")
    assert (check["status"], check["value"], check["threshold"]) == ("passed", 1, 1)
    assert "error:" not in run.stderr


def test_the_first_ten_are_shown_one_by_one_then_a_count(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first_repeat = add_lines(sample, DATA, CANCEL, *['  - "cancel my purchase"'] * 12)
    first = line_of(sample, DATA, '{text: "cancel my purchase"')
    run = validate(sample, capfd, monkeypatch, actions=False)

    located = [line for line in run.stderr.splitlines() if line.startswith(f"error: {DATA}:")]
    assert located == [
        f"error: {DATA}:{line}: 'cancel my purchase' is already under cancel_order at "
        f"{DATA}:{first}"
        for line in range(first_repeat, first_repeat + 10)
    ]
    assert (
        "error: 2 more for duplicate_examples than shown here; the audit record lists the "
        "first 12 with file and line"
    ) in run.stderr.splitlines()
    assert len(run.check("duplicate_examples")["locations"]) == 12  # type: ignore[arg-type]

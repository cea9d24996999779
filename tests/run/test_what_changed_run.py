"""What a training pull request changed, and what that did (issue 16, Must show): a
constructed repository holding the sample project, its base on main promoted first,
then a pull request that cuts one intent's training data to 2 examples. `run --mode
train --base main` names that intent in the data diff table, among the flipped
utterances and in the confusion table, each section read as GitHub renders it; and
`ci-trainer explain PREDICTIONS --base main` on that run's predictions file gives the
run's three sections exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from git_repos import DATASET, edit_yaml, git, isolate_from_ci, needs_git, sample_project

from ci_trainer.cli import main
from ci_trainer.holdout_types import HoldoutOutcome
from ci_trainer.predictions_file import write_predictions
from ci_trainer.report.data_diff import MINUS

from .conftest import Harness
from .test_flips_run import Cells, section

CUT = "cancel_order"
CONFIG = "training-config.yaml"
WHAT_CHANGED = (
    "### Data diff against the base",
    "### Confusions that changed",
    "### Utterances that flipped",
)


def cut_to_two(project: Path) -> None:
    """The pull request: one intent's training data cut to 2 examples, and the dataset
    gate in this config relaxed just enough to train it (min 2 examples; the imbalance
    that 2 examples make), as tests/run/test_flips_run.py does."""

    def cut(data: dict[str, Any]) -> None:
        data[CUT] = data[CUT][:2]

    def relax(data: dict[str, Any]) -> None:
        data["validation"] |= {"min_examples_per_intent": 2, "max_imbalance_ratio": 100}

    edit_yaml(project, DATASET, cut)
    edit_yaml(project, CONFIG, relax)


def run(*args: str) -> int:
    return main(["run", "--config", CONFIG, *args])


def outputs(folder: Path) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((folder / "outputs.json").read_text(encoding="utf-8"))
    return loaded


@needs_git
def test_the_cut_intent_is_named_in_the_data_diff_the_flips_and_the_confusions(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_from_ci(monkeypatch, tmp_path)
    project = sample_project(tmp_path / "project")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "base")
    base = git(project, "rev-parse", "HEAD")
    emu = harness.emulator(project / CONFIG)
    for name, value in harness.env(emu).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(project)
    # Everything the runs write stays outside the repository, so the commits hold only
    # the project.
    audit_log = str(tmp_path / "audit" / "training_audit.log")

    # main: the base is trained and promoted; it is production from now on.
    assert run("--mode", "promote", "--output-dir", str(tmp_path / "main-run"),
               "--audit-log", audit_log) == 0  # fmt: skip
    assert outputs(tmp_path / "main-run")["decision"] == "promoted"

    # The pull request's commit on a branch.
    git(project, "checkout", "-q", "-b", "feature")
    cut_to_two(project)
    git(project, "commit", "-q", "-am", "cut cancel_order to 2 examples")
    pr_run = tmp_path / "pr-run"
    code = run("--mode", "train", "--base", "main", "--output-dir", str(pr_run),
               "--audit-log", audit_log)  # fmt: skip
    _, err = harness.output()
    assert code in (0, 1), err
    assert f"data diff against main (merge base {base[:12]})" in err
    summary = (pr_run / "summary.md").read_text(encoding="utf-8")

    # The data diff table: the intent, its examples 40-odd -> 2, and its holdout recall
    # falling from production's to the candidate's.
    diff = section(summary, "### Data diff against the base")
    assert f"Against main at the merge base {base[:12]} (--base)" in diff
    [table] = Cells(diff).tables
    assert table[0] == ["Intent", "Examples", "Holdout recall"]
    [row] = [r for r in table[1:] if r[0] == CUT]
    removed, counts = row[1].split(" (")
    kept_before = int(counts.split(" → ")[0])
    assert removed == f"+0 {MINUS}{kept_before - 2}" and counts == f"{kept_before} → 2)"
    production_recall, candidate_recall = (float(x) for x in row[2].split(" → "))
    assert candidate_recall < production_recall
    assert [r[0] for r in table[1:]] == [CUT]  # the one intent the pull request changed

    # The flipped utterances: that intent's, which production had right.
    [flips] = Cells(section(summary, "### Utterances that flipped")).tables
    assert flips[0] == ["Intent", "Flip", "Utterance", "Candidate", "Production"]
    lost = [r for r in flips[1:] if r[0].startswith(CUT) and r[1] == "❌ lost"]
    assert len(lost) >= 2 and all(r[4].startswith(f"{CUT} (") for r in lost)

    # The confusion table: the pair that grew most starts from that intent.
    [confusions] = Cells(section(summary, "### Confusions that changed")).tables
    assert confusions[0] == ["Expected", "Predicted as", "Production", "Candidate", "Change"]
    assert confusions[1][0] == CUT and int(confusions[1][3]) > int(confusions[1][2])

    # explain on the run's predictions file, in the same repository: the same sections.
    predictions = outputs(pr_run)["predictions"]
    assert Path(predictions) == tmp_path / "audit" / "training_audit.predictions.jsonl"
    harness.output()
    assert main(["explain", predictions, "--base", "main", "--config", CONFIG]) == 0
    explained, err = harness.output()
    assert err == ""
    for heading in WHAT_CHANGED:
        assert section(explained, heading) == section(summary, heading)
    assert explained.index(WHAT_CHANGED[0]) < explained.index(WHAT_CHANGED[1])


# --- explain --base when there is no diff to show: the run's one line, no traceback ---


def predictions_file(folder: Path) -> Path:
    """A small predictions file as a run writes it (no training needed to test errors)."""
    outcomes = [
        HoldoutOutcome(text="cancel it", expected=CUT, candidate="track_order",
                       candidate_score=0.6, production=CUT, production_score=0.9),
        HoldoutOutcome(text="where is it", expected="track_order", candidate="track_order",
                       candidate_score=0.8, production="track_order", production_score=0.7),
    ]  # fmt: skip
    path = folder / "run.predictions.jsonl"
    write_predictions(path, outcomes)
    return path


def the_runs_line(capfd: pytest.CaptureFixture[str], base: str, out: Path) -> str:
    """The line `ci-trainer validate --base` prints when it has no data diff."""
    capfd.readouterr()
    assert main(["validate", "--config", CONFIG, "--base", base, "--output-dir", str(out)]) == 0
    _, err = capfd.readouterr()
    [line] = [line for line in err.splitlines() if "no data diff against" in line]
    return line[line.index("no data diff against") :]


def explain_refused(capfd: pytest.CaptureFixture[str], *args: str) -> str:
    capfd.readouterr()
    assert main(["explain", *args]) == 2
    out, err = capfd.readouterr()
    assert out == "" and "Traceback" not in err
    return err


def shallow_clone(tmp_path: Path) -> Path:
    """A depth-1 clone of the pull request's branch that has main's tip too, but not the
    history between them (what `actions/checkout` with its default depth and the base
    ref fetched gives)."""
    origin = sample_project(tmp_path / "origin")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "base")
    git(origin, "checkout", "-q", "-b", "feature")
    cut_to_two(origin)
    git(origin, "commit", "-q", "-am", "pull request")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", "--branch", "feature",
        f"file://{origin}", str(clone))  # fmt: skip
    return clone


@needs_git
@pytest.mark.parametrize("case", ["no such ref", "not a repository", "shallow"])
def test_explain_without_a_diff_says_the_runs_one_line(
    case: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    isolate_from_ci(monkeypatch, tmp_path)
    base = "main"
    if case == "shallow":
        project, base = shallow_clone(tmp_path), "origin/main"
    else:
        project = sample_project(tmp_path / "project")
        if case == "no such ref":
            git(project, "init", "-q", "-b", "main")
            git(project, "add", "-A")
            git(project, "commit", "-q", "-m", "base")
            base = "release-2"
    monkeypatch.chdir(project)
    predictions = predictions_file(tmp_path)
    expected = {
        "no such ref": "no data diff against release-2: release-2 is not in this clone",
        "not a repository": "no data diff against main: no git history here",
        "shallow": "no data diff against origin/main: this is a shallow clone",
    }[case]
    line = the_runs_line(capfd, base, tmp_path / "out")
    assert line.startswith(expected)
    err = explain_refused(capfd, str(predictions), "--base", base)
    assert err == f"ci-trainer explain: {line}\n"


def test_explain_refuses_a_config_without_base_and_names_a_broken_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    isolate_from_ci(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    predictions = str(predictions_file(tmp_path))
    err = explain_refused(capfd, predictions, "--config", CONFIG)
    assert err.startswith("ci-trainer explain: --config names the repository the data diff")
    assert "add --base REF, or leave --config out" in err
    (tmp_path / CONFIG).write_text("version: 1\nmodel: {id: m}\nbogus_key: 1\n", encoding="utf-8")
    err = explain_refused(capfd, predictions, "--base", "main")
    lines = err.splitlines()
    assert lines[0] == "ci-trainer explain: 2 problems in the training config:"
    assert all(line.startswith("ci-trainer explain: ") for line in lines)
    assert any("training-config.yaml:3:1: bogus_key: unknown key" in line for line in lines)

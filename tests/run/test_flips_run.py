"""A whole run where one intent's training data is cut to 2 examples (issue 16 items 2,
3 and 5): the sample project, against the emulator over real HTTP. The summary names
that intent among the flipped utterances and in the confusion table, the predictions
file holds every holdout utterance and agrees with the summary, and `ci-trainer explain`
on that file renders the same sections."""

from __future__ import annotations

import hashlib
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import yaml
from cmarkgfm.cmark import Options

from ci_trainer.audit.schema import schema_problem
from ci_trainer.cli import main
from ci_trainer.decision import Decision
from ci_trainer.github import destinations
from ci_trainer.report import build_outputs, render_summary
from ci_trainer.result import Mode, RunResult

from .conftest import Harness

REPO = Path(__file__).resolve().parents[2]
CUT = "cancel_order"
CHANGE_HEADINGS = (
    "### Confusions that changed",
    "### Utterances that flipped",
    "### Per-intent F1 on the holdout",
)


class Cells(HTMLParser):
    """The text of every table cell, per table, as GitHub renders the Markdown."""

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(
            cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def sample_project(tmp_path: Path) -> Path:
    """A copy of the repository's sample config and datasets. The dataset gate is
    relaxed so that an intent of 2 examples is trained (it would reject the data before
    training otherwise): what is tested here is what that does to the model."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "datasets", project / "datasets")
    config = project / "training-config.yaml"
    data = yaml.safe_load((REPO / "training-config.yaml").read_text(encoding="utf-8"))
    data["validation"] |= {"min_examples_per_intent": 2, "max_imbalance_ratio": 100}
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


def cut_intent(config: Path, intent: str, keep: int) -> None:
    dataset = config.parent / "datasets" / "customer_service.yaml"
    data = yaml.safe_load(dataset.read_text(encoding="utf-8"))
    data[intent] = data[intent][:keep]
    dataset.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def section(markdown: str, heading: str) -> str:
    """One `###` section of a summary, up to the next heading of that level or higher."""
    start = markdown.index(heading)
    ends = [markdown.find(mark, start + 1) for mark in ("\n### ", "\n## ")]
    end = min((e for e in ends if e != -1), default=len(markdown))
    return markdown[start:end].strip()


def degraded_run(harness: Harness) -> tuple[Path, RunResult]:
    config = sample_project(harness.tmp_path)
    emu = harness.emulator(config)
    first = harness.run(config, emu, mode=Mode.PROMOTE)
    assert first.decision is Decision.PROMOTED, first.reason
    assert first.predictions_file is None  # nothing to compare with yet: no file
    cut_intent(config, CUT, keep=2)
    second = harness.run(config, emu)
    return config, second


def test_an_intent_cut_to_two_examples_is_named_in_the_flips_and_the_confusions(
    harness: Harness,
) -> None:
    config, result = degraded_run(harness)
    champion, changes = result.champion, result.holdout_changes
    assert champion is not None and changes is not None
    # The emulator's classifier really lost the intent: recall fell on the holdout.
    cut = next(change for change in champion.intent_changes if change.intent == CUT)
    assert cut.candidate_recall < cut.production_recall
    assert changes.flips[0].intent == CUT and len(changes.flips[0].regressed) >= 2

    summary = render_summary(result)
    confusions = Cells(section(summary, "### Confusions that changed")).tables[0]
    assert confusions[0] == ["Expected", "Predicted as", "Production", "Candidate", "Change"]
    top = confusions[1]
    assert top[0] == CUT and int(top[3]) > int(top[2])
    flips = Cells(section(summary, "### Utterances that flipped")).tables[0]
    lost = [row for row in flips[1:] if row[0].startswith(CUT) and row[1] == "❌ lost"]
    assert len(lost) >= 2
    assert all(row[4].startswith(f"{CUT} (") for row in lost)  # production had it right
    chart = section(summary, "### Per-intent F1 on the holdout")
    assert f'"{CUT}"' in chart and "xychart-beta" in chart

    # The predictions file: one line per holdout utterance, beside the audit log.
    written = result.predictions_file
    assert written is not None
    path = Path(written.path)
    assert path == config.parent / "cognigy_training_audit.predictions.jsonl"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == written.sha256
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert len(rows) == written.lines == champion.n
    assert all(set(row) == set(rows[0]) for row in rows)
    regressed = [row for row in rows if row["flip"] == "regressed"]
    assert len(regressed) == changes.regressed == champion.mcnemar_production_only
    assert sum(row["flip"] == "fixed" for row in rows) == champion.mcnemar_candidate_only
    shown_texts = {row[2] for row in flips[1:]}
    for row in regressed:
        if row["text"] in shown_texts:  # every shown row matches its line in the file
            match = next(r for r in flips[1:] if r[2] == row["text"])
            assert match[3] == f"{row['candidateIntent']} ({row['candidateScore']:.2f})"
            assert match[4] == f"{row['productionIntent']} ({row['productionScore']:.2f})"
    assert {row["text"] for row in regressed if row["expected"] == CUT} <= shown_texts

    # The audit record keeps the counts and the file's digest, never the utterances.
    assert result.audit_log is not None
    record = json.loads(Path(result.audit_log).read_text(encoding="utf-8").splitlines()[-1])
    assert schema_problem(record) is None
    assert record["predictionsFile"] == {
        "path": str(path),
        "sha256": written.sha256,
        "lines": champion.n,
    }
    counts = record["holdoutChanges"]
    assert (counts["regressed"], counts["fixed"]) == (changes.regressed, changes.fixed)
    assert counts["confusions"][0]["expected"] == CUT
    assert regressed[0]["text"] not in json.dumps(record)
    assert build_outputs(result)["predictions"] == str(path)
    assert f"predictions: {path}" in destinations(result, [], {})


def test_explain_renders_the_runs_sections_from_the_predictions_file_alone(
    harness: Harness,
) -> None:
    config, result = degraded_run(harness)
    assert result.predictions_file is not None
    summary = render_summary(result)
    # The file is all explain gets: the project and its emulator are gone.
    shutil.rmtree(config.parent / "datasets")
    harness.output()
    assert main(["explain", result.predictions_file.path]) == 0
    explained, _ = harness.output()
    assert explained.startswith("## What changed on the holdout\n")
    for heading in CHANGE_HEADINGS:
        assert section(explained, heading) == section(summary, heading)

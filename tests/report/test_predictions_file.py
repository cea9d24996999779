"""The predictions file (issue 16 items 2 and 5): written whole, read back to the same
outcomes, and a file that is missing or not one of ours gets one line naming the file,
the line and the field, with no traceback."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ci_trainer.cli import main
from ci_trainer.holdout_types import HoldoutOutcome
from ci_trainer.predictions_file import predictions_path, read_predictions, write_predictions

OUTCOMES = [
    HoldoutOutcome(
        text="cancel it, «now» 🙂",
        expected="cancel",
        candidate="track",
        candidate_score=0.41,
        production="cancel",
        production_score=0.88,
        flagged=True,
    ),
    HoldoutOutcome(text="money back?", expected="refund", candidate="refund", production=None),
]


def test_the_file_is_named_after_the_audit_log_beside_it() -> None:
    assert predictions_path(Path("ci/cognigy_training_audit.log")) == Path(
        "ci/cognigy_training_audit.predictions.jsonl"
    )


def test_written_lines_read_back_to_the_same_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "run.predictions.jsonl"
    written = write_predictions(path, OUTCOMES)
    data = path.read_bytes()
    assert (written.path, written.lines) == (str(path), 2)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert lines[0] == {
        "text": "cancel it, «now» 🙂",
        "expected": "cancel",
        "candidateIntent": "track",
        "candidateScore": 0.41,
        "productionIntent": "cancel",
        "productionScore": 0.88,
        "flip": "regressed",
        "flagged": True,
    }
    assert (lines[1]["flip"], lines[1]["productionIntent"]) == ("fixed", None)
    assert read_predictions(path) == OUTCOMES
    assert list(tmp_path.joinpath("new").iterdir()) == [path]  # no temporary file left


def _line(**change: object) -> str:
    line = {
        "text": "hello",
        "expected": "greet",
        "candidateIntent": "greet",
        "candidateScore": 0.9,
        "productionIntent": "greet",
        "productionScore": 0.8,
        "flip": None,
        "flagged": False,
    }
    line.update(change)
    return json.dumps({k: v for k, v in line.items() if v != "DROP"})


@pytest.mark.parametrize(
    ("second_line", "expected"),
    [
        ("{not json", ":2: not a JSON object"),
        ("[1, 2]", ":2: not a JSON object but list"),
        (_line(expected=3), ":2: expected: must be a non-empty string, not 3"),
        (_line(candidateScore="high"), ':2: candidateScore: must be a number or null, not "high"'),
        (_line(flagged="DROP"), ":2: flagged: missing"),
        (_line(colour="red"), ":2: colour: unknown field"),
        (_line(flip="fixed"), ":2: flip: says 'fixed', but the line's intents make it None"),
        ('{"text": "a", "text": "b"}', ":2: not a JSON object: the key 'text' appears twice"),
        (_line(candidateScore=float("nan")), ":2: not a JSON object: NaN is not a JSON number"),
    ],
)
def test_a_malformed_line_is_named_by_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second_line: str, expected: str
) -> None:
    path = tmp_path / "run.predictions.jsonl"
    path.write_text(_line() + "\n" + second_line + "\n", encoding="utf-8")
    assert main(["explain", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"ci-trainer explain: {path}{expected}"), err
    assert "Traceback" not in err
    assert "(give the predictions file a run wrote" in err


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, ": cannot be read: No such file or directory (check the path)"),
        (lambda p: p.mkdir(), ": cannot be read: Is a directory (check the path)"),
        (lambda p: p.write_text("\n\n"), ": holds no predictions (an empty file)"),
        (lambda p: p.write_bytes(b'{"text": "\xff"}\n'), ":1: not a JSON object"),
    ],
)
def test_a_file_that_cannot_be_used_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, expected: str
) -> None:
    path = tmp_path / "run.predictions.jsonl"
    make(path)  # type: ignore[operator]
    assert main(["explain", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ci-trainer explain: {path}{expected}"), err


def test_a_path_that_looks_like_a_workflow_command_cannot_act_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "::error::gotcha"]) == 2
    err = capsys.readouterr().err
    assert not any(line.lstrip().startswith("::") for line in err.splitlines())


def test_explain_prints_markdown_from_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.predictions.jsonl"
    write_predictions(path, OUTCOMES)
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert "### Confusions that changed" in out
    assert "| cancel ⚠️ | ❌ lost | cancel it, «now» 🙂 | track (0.41) | cancel (0.88) |" in out

"""The predictions file: every holdout outcome of a run, one JSON object per line.

It is written next to the audit log as `<audit log stem>.predictions.jsonl` (the audit
record keeps its path and sha256, the counts only), uploaded as an artifact from the
`predictions` output, and read back by `ci-trainer explain`, which re-renders the "what
changed" part of the summary from it alone. Keys are camelCase, like the audit record's:

    {"text": "cancel my order", "expected": "cancel_order",
     "candidateIntent": "return_item", "candidateScore": 0.41,
     "productionIntent": "cancel_order", "productionScore": 0.88,
     "flip": "regressed", "flagged": true}

`flip` is `regressed` (production right, the candidate wrong), `fixed` (the reverse) or
null; `flagged` says the gate found the utterance's intent significantly worse.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ci_trainer.errors import CiTrainerError, ConfigIssue
from ci_trainer.holdout_types import HoldoutOutcome, PredictionsFile
from ci_trainer.http.strict_json import loads_strict

SUFFIX = ".predictions.jsonl"
# A holdout of a million utterances is about 200 MB of lines; anything larger is not a
# predictions file of ours, and reading it would only exhaust memory.
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024

_TEXT_FIELDS = ("text", "expected")
_INTENT_FIELDS = ("candidateIntent", "productionIntent")
_SCORE_FIELDS = ("candidateScore", "productionScore")
_FIELDS = (*_TEXT_FIELDS, *_INTENT_FIELDS, *_SCORE_FIELDS, "flip", "flagged")
_HINT = "give the predictions file a run wrote (the `predictions` output), unchanged"


class PredictionsFileError(CiTrainerError):
    """A predictions file that cannot be read; `issue` says where and why."""

    def __init__(self, issue: ConfigIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


def predictions_path(audit_log: Path) -> Path:
    """Where a run's predictions go: beside its audit log, named after it."""
    return audit_log.with_name(audit_log.stem + SUFFIX)


def line_of(outcome: HoldoutOutcome) -> dict[str, Any]:
    return {
        "text": outcome.text,
        "expected": outcome.expected,
        "candidateIntent": outcome.candidate,
        "candidateScore": _finite(outcome.candidate_score),
        "productionIntent": outcome.production,
        "productionScore": _finite(outcome.production_score),
        "flip": outcome.flip,
        "flagged": outcome.flagged,
    }


def write_predictions(path: Path, outcomes: Sequence[HoldoutOutcome]) -> PredictionsFile:
    """Write the file whole (a temporary file renamed over it, so a reader never sees
    half of one); raises OSError."""
    data = b"".join(
        json.dumps(line_of(o), ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"
        for o in outcomes
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return PredictionsFile(
        path=str(path), sha256=hashlib.sha256(data).hexdigest(), lines=len(outcomes)
    )


def read_predictions(path: Path) -> list[HoldoutOutcome]:
    """Every outcome of the file; PredictionsFileError naming the file, line and field when it
    cannot be read or a line is not one of ours."""
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            _fail(shown, None, "", f"is {size} bytes, more than the {MAX_FILE_BYTES} read")
        data = path.read_bytes()
    except OSError as exc:
        _fail(shown, None, "", f"cannot be read: {exc.strerror or exc}", hint="check the path")
    outcomes = [_outcome(shown, number, line) for number, line in _lines(data)]
    if not outcomes:
        _fail(shown, None, "", "holds no predictions (an empty file)")
    return outcomes


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield number, line


def _outcome(file: str, number: int, line: bytes) -> HoldoutOutcome:
    if len(line) > MAX_LINE_BYTES:
        _fail(file, number, "", f"the line is longer than {MAX_LINE_BYTES} bytes")
    try:
        item = loads_strict(line)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(file, number, "", f"not a JSON object: {str(exc)[:200]}")
    if not isinstance(item, dict):
        _fail(file, number, "", f"not a JSON object but {type(item).__name__}")
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        _fail(file, number, unknown[0][:60], f"unknown field; a line has {', '.join(_FIELDS)}")
    for name in _FIELDS:
        _check(file, number, item, name)
    outcome = HoldoutOutcome(
        text=item["text"],
        expected=item["expected"],
        candidate=item["candidateIntent"],
        candidate_score=item["candidateScore"],
        production=item["productionIntent"],
        production_score=item["productionScore"],
        flagged=item["flagged"],
    )
    if item["flip"] != outcome.flip:
        _fail(
            file,
            number,
            "flip",
            f"says {item['flip']!r}, but the line's intents make it {outcome.flip!r}",
        )
    return outcome


def _check(file: str, number: int, item: dict[str, Any], name: str) -> None:
    if name not in item:
        _fail(file, number, name, "missing")
    value = item[name]
    if name in _TEXT_FIELDS:
        ok, want = isinstance(value, str) and bool(value), "a non-empty string"
    elif name in _INTENT_FIELDS:
        ok, want = value is None or (isinstance(value, str) and bool(value)), "an intent or null"
    elif name in _SCORE_FIELDS:
        number_ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok, want = value is None or number_ok, "a number or null"
    elif name == "flip":
        ok, want = value in (None, "regressed", "fixed"), '"regressed", "fixed" or null'
    else:
        ok, want = isinstance(value, bool), "true or false"
    if not ok:
        _fail(file, number, name, f"must be {want}, not {json.dumps(value)[:60]}")


def _fail(file: str, line: int | None, field: str, message: str, *, hint: str = _HINT) -> NoReturn:
    issue = ConfigIssue(file=file, line=line, column=None, field=field, message=message, hint=hint)
    raise PredictionsFileError(issue)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None

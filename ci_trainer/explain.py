"""`ci-trainer explain PREDICTIONS`: the "what changed" part of a run's summary again,
from the run's predictions file alone (no service, no retraining), as Markdown on stdout.

The outcomes are read back (`ci_trainer.predictions_file`), the changes derived by the
same code as in the run (`ci_trainer.holdout_changes`) and rendered by the same parts as
the summary's (`ci_trainer.report.changes`), so the text is the run's.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ci_trainer.holdout_changes import holdout_changes
from ci_trainer.predictions_file import PredictionsFileError, read_predictions
from ci_trainer.redact import neutralise_commands
from ci_trainer.report.changes import render_changes


def explain_cli(path: str, *, extra_sections: Sequence[str] = (), out: TextIO | None = None) -> int:
    """0 and the Markdown on `out` (stdout); 2 and one line naming the file, line and
    field on stderr when the file cannot be used."""
    try:
        outcomes = read_predictions(Path(path))
    except PredictionsFileError as exc:
        # The path and the quoted value are the user's: no line of them may act as a
        # workflow command when this runs in a CI step.
        print(neutralise_commands(f"ci-trainer explain: {exc}"), file=sys.stderr)
        return 2
    text = render_changes(holdout_changes(outcomes), source=path, extra_sections=extra_sections)
    (out or sys.stdout).write(text)
    return 0

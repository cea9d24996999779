"""`ci-trainer explain PREDICTIONS [--base REF]`: the "what changed" part of a run's
summary again, from the run's predictions file (no service, no retraining), as Markdown
on stdout.

The outcomes are read back (`ci_trainer.predictions_file`), the changes derived by the
same code as in the run (`ci_trainer.holdout_changes`) and rendered by the same parts as
the summary's (`ci_trainer.report.changes`), so the text is the run's. With `--base`,
the data diff against the base is computed from the repository the config lives in by
the run's own stage functions (`pipeline.base_stage`) and shown next to each intent's
holdout recall from the file, as the run's summary shows it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ci_trainer.decision import Decision
from ci_trainer.errors import CiTrainerError
from ci_trainer.holdout_changes import holdout_changes
from ci_trainer.holdout_types import HoldoutChanges, HoldoutOutcome
from ci_trainer.predictions_file import PredictionsFileError, read_predictions
from ci_trainer.redact import neutralise_commands
from ci_trainer.report.changes import render_changes

DEFAULT_CONFIG = "training-config.yaml"


class _Refused(CiTrainerError):
    """Why explain cannot do what it was asked, in the line it prints (exit 2)."""

    decision = Decision.INVALID


def explain_cli(
    path: str,
    *,
    base: str | None = None,
    config: str | None = None,
    extra_sections: Sequence[str] = (),
    out: TextIO | None = None,
) -> int:
    """0 and the Markdown on `out` (stdout); 2 and one line on stderr (the file, line
    and field; or why there is no data diff, as the run says it) when it cannot be done."""
    try:
        if config is not None and base is None:
            msg = (
                "--config names the repository the data diff reads, and there is none "
                "without --base: add --base REF, or leave --config out"
            )
            raise _Refused(msg)
        changes = holdout_changes(_outcomes(path))
        sections = [*extra_sections]
        if base is not None:
            sections.append(_data_diff_section(base, config or DEFAULT_CONFIG, changes))
    except _Refused as exc:
        # The path, the ref and the quoted values are the user's: no line of them may
        # act as a workflow command when this runs in a CI step.
        for line in str(exc).splitlines() or [""]:
            print(neutralise_commands(f"ci-trainer explain: {line}"), file=sys.stderr)
        return 2
    text = render_changes(changes, source=path, extra_sections=sections)
    (out or sys.stdout).write(text)
    return 0


def _outcomes(path: str) -> list[HoldoutOutcome]:
    try:
        return read_predictions(Path(path))
    except PredictionsFileError as exc:
        raise _Refused(str(exc)) from None


def _data_diff_section(base: str, config: str, changes: HoldoutChanges) -> str:
    """The run's "Data diff against the base" section, from the repository as it is."""
    # Imported here: without --base, explain never loads the config machinery.
    from ci_trainer.base_data import base_request
    from ci_trainer.config import load_config
    from ci_trainer.pipeline.base_stage import describe, diff_working_tree
    from ci_trainer.report.data_diff import data_diff_section, holdout_recall_changes

    request = base_request(base, {})
    if request is None:
        msg = "--base needs a ref (a branch, tag or commit), not an empty value"
        raise _Refused(msg)
    try:
        diff = diff_working_tree(load_config(config), request)
    except CiTrainerError as exc:  # the config or a dataset cannot be read
        raise _Refused(str(exc)) from None
    if diff.unavailable is not None:
        raise _Refused(describe(diff))
    section = data_diff_section(diff, holdout_recall_changes(changes))
    assert section is not None  # a base was asked for
    return section

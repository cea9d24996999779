"""The stage right after the datasets are read: compare them with the base's.

In every mode, and never part of the decision: whatever goes wrong here (no history, a
base file that cannot be parsed, even our own bug) ends as a `DataDiff` whose
`unavailable` says why, and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ci_trainer.base_data import BaseRequest, BaseUnavailable, read_base
from ci_trainer.config import LoadedConfig
from ci_trainer.data_diff import compare_files
from ci_trainer.data_diff_types import DataDiff, FileDiff
from ci_trainer.datasets import Dataset, load_dataset
from ci_trainer.pipeline.context import StageContext
from ci_trainer.pipeline.dataset_stages import Datasets

log = logging.getLogger("ci_trainer")


def compare_with_base(ctx: StageContext, data: Datasets, request: BaseRequest | None) -> None:
    if request is None:
        return
    with ctx.stage("Data diff against the base"):
        diff = _diff(ctx, data, request)
        ctx.recorder.record(data_diff=diff)
        ctx.reporter.info(describe(diff))


def _diff(ctx: StageContext, data: Datasets, request: BaseRequest) -> DataDiff:
    try:
        return diff_against_base(ctx.loaded, data.local, data.holdout, request)
    except Exception as exc:  # a bug of ours must not cost the run its decision
        log.debug("the data diff failed", exc_info=True)
        return DataDiff(
            base_ref=request.ref,
            requested_by=request.requested_by,
            unavailable=f"the data diff failed ({type(exc).__name__})",
            hint="this is a bug in ci-trainer: please report it with the job log",
        )


def diff_against_base(
    loaded: LoadedConfig,
    local: Mapping[str, Dataset | None],
    holdout: Dataset | None,
    request: BaseRequest,
) -> DataDiff:
    """The working tree's datasets (`local`, by dataset id) and holdout, compared with
    the base's; a diff whose `unavailable` says why when the base cannot be read."""
    asked = DataDiff(base_ref=request.ref, requested_by=request.requested_by)
    try:
        base = read_base(loaded, request)
    except BaseUnavailable as exc:
        return asked.model_copy(update={"unavailable": exc.message, "hint": exc.hint})
    datasets = [
        compare_files(ref.id, ref.path, base.datasets.get(ref.id), dataset)
        for ref in loaded.config.datasets
        if ref.path and (dataset := local.get(ref.id)) is not None
    ]
    section = loaded.config.holdout
    held = (
        compare_files(None, section.path, base.holdout, holdout)
        if section is not None and holdout is not None
        else None
    )
    return asked.model_copy(
        update={
            "resolved_ref": base.resolved_ref,
            "base_commit": base.commit,
            "datasets": datasets,
            "holdout": held,
        }
    )


def diff_working_tree(loaded: LoadedConfig, request: BaseRequest) -> DataDiff:
    """The same diff for a command that has not loaded the datasets (`ci-trainer explain
    --base`): the working tree's files read by the run's reader first. Raises
    DatasetError when one of them cannot be read."""
    local = {
        ref.id: load_dataset(loaded.resolve(ref.path)) for ref in loaded.config.datasets if ref.path
    }
    section = loaded.config.holdout
    holdout = load_dataset(loaded.resolve(section.path)) if section is not None else None
    return diff_against_base(loaded, local, holdout, request)


def describe(diff: DataDiff) -> str:
    """The console line of the diff."""
    if diff.unavailable is not None:
        hint = f"; {diff.hint}" if diff.hint else ""
        return f"no data diff against {diff.base_ref}: {diff.unavailable}{hint}"
    head = f"data diff against {diff.resolved_ref} (merge base {(diff.base_commit or '')[:12]})"
    parts = [_file_line(f) for f in diff.datasets]
    if diff.holdout is not None:
        parts.append(_file_line(diff.holdout))
    return head + ": " + "; ".join(parts) if parts else head + ": no committed datasets"


def _file_line(diff: FileDiff) -> str:
    name = diff.dataset_id or "holdout"
    if not diff.differs:
        return f"{name} unchanged"
    new = "" if diff.at_base else " (new file)"
    return (
        f"{name}{new} {diff.changed_intents_count} intents changed, "
        f"+{diff.examples_added_count} -{diff.examples_removed_count} examples, "
        f"{diff.examples_moved_count} moved"
    )

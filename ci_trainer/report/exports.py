"""The "Service's intents" section: per target, what the service held before the run
(the export kept as a file) and what importing the committed file adds, changes and
deletes there, the first few names of each kind and then a count."""

from __future__ import annotations

from collections.abc import Sequence

from ci_trainer.report.markdown import escape, table
from ci_trainer.result import RunResult, SentenceChanges, ServiceExport

SHOWN = 5  # names per cell; the rest is counted


def exports_section(result: RunResult) -> str | None:
    if not result.service_exports:
        return None
    rows = [_row(export) for export in result.service_exports]
    headers = ["Target", "On the service", "Import adds", "Import changes", "Import deletes"]
    paths = [e.path for e in result.service_exports if e.path]
    kept = (
        "What each target held before this run is kept in its intents export ("
        + ", ".join(escape(path) for path in paths)
        + "); importing one with mode overwrite restores its flow x locale."
        if paths
        else "The service's intents were compared but not kept as files."
    )
    return "### Service's intents\n\n" + table(headers, rows) + "\n\n" + kept


def _row(export: ServiceExport) -> list[str]:
    held = f"{export.intent_count} intents, {export.example_count} sentences"
    if export.training_out_of_date is not None:
        held += ", training " + ("out of date" if export.training_out_of_date else "current")
    return [
        escape(export.target),
        held,
        _names(export.intents_added, export.intents_added_count),
        _changes(export.intents_changed, export.intents_changed_count),
        _names(export.intents_deleted, export.intents_deleted_count),
    ]


def _names(names: Sequence[str], count: int) -> str:
    if not count:
        return "none"
    shown = ", ".join(escape(name) for name in names[:SHOWN])
    return shown + (f" and {count - min(len(names), SHOWN)} more" if count > SHOWN else "")


def _changes(changes: Sequence[SentenceChanges], count: int) -> str:
    if not count:
        return "none"
    shown = ", ".join(
        f"{escape(c.intent)} (+{c.added_count}/-{c.removed_count})" for c in changes[:SHOWN]
    )
    return shown + (f" and {count - min(len(changes), SHOWN)} more" if count > SHOWN else "")

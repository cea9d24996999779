"""The stages before training: read the datasets, check access, the service's dataset
statistics, and the dataset checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from ci_trainer.backend_types import DatasetStats
from ci_trainer.backends.base import Backend
from ci_trainer.checks import DatasetInput, blocking, run_checks, service_exports
from ci_trainer.datasets import Dataset, load_dataset
from ci_trainer.decision import Decision
from ci_trainer.errors import AuthError, FeatureUnavailable
from ci_trainer.pipeline.background import AccessInBackground
from ci_trainer.pipeline.context import Ruling, StageContext
from ci_trainer.result import CheckResult, CheckStatus, DatasetRecord, Mode

# Scopes each mode needs (the contract's securitySchemes). Checked before training so a
# missing one fails in seconds with its name, not as a 403 half-way through.
REQUIRED_SCOPES: dict[Mode, tuple[str, ...]] = {
    Mode.VALIDATE: ("training:read",),
    Mode.TRAIN: ("training:read", "training:write", "model:read"),
    Mode.PROMOTE: ("training:read", "training:write", "model:read", "model:write"),
}
# Skipped checks worth a notice: the data lacks what the check needs. Other skips follow
# from the run itself (no service stats without credentials) and are explained there.
_NOTICE_WHEN_SKIPPED = frozenset({"annotation_score"})
# Offending examples shown one by one per check (console, annotations, summary); the
# rest are counted, since GitHub shows only 10 annotations of a kind per step anyway.
LOCATED_MESSAGES = 10


@dataclass
class Datasets:
    """What the dataset stages found, handed from one stage to the next."""

    local: dict[str, Dataset | None] = field(default_factory=dict)
    service: dict[str, DatasetStats | None] = field(default_factory=dict)
    holdout: Dataset | None = None


def load_datasets(ctx: StageContext) -> Datasets:
    data = Datasets()
    with ctx.stage("Load datasets"):
        for ref in ctx.config.datasets:
            local = load_dataset(ctx.loaded.resolve(ref.path)) if ref.path else None
            data.local[ref.id] = local
            ctx.recorder.add_dataset(_dataset_record(ref.id, ref.path, local))
            if local is not None:
                ctx.reporter.info(
                    f"{ref.id}: {len(local.examples)} examples, "
                    f"{len(local.intent_distribution)} intents ({ref.path})"
                )
        if ctx.config.holdout is not None:
            data.holdout = load_dataset(ctx.loaded.resolve(ctx.config.holdout.path))
            ctx.reporter.info(
                f"holdout: {len(data.holdout.examples)} examples ({ctx.config.holdout.path})"
            )
    return data


def check_access(ctx: StageContext, pending: AccessInBackground) -> None:
    with ctx.stage("Check access"):
        access = pending.result()  # its held log lines, then what it answered or raised
        for text in access.notices:
            ctx.message("notice", text, title="Training service")
        granted = set(access.granted_scopes)
        needed = REQUIRED_SCOPES[ctx.mode]
        # A service that reports no scopes at all leaves enforcement to its 403s.
        missing = [s for s in needed if s not in granted] if granted else []
        missing += [s for s in access.missing_scopes if s in needed and s not in missing]
        if missing:
            raise AuthError(
                call="check access",
                message_text=(
                    f"the API client lacks the scope{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)} needed for mode '{ctx.mode.value}' "
                    f"(granted: {', '.join(sorted(granted)) or 'none'})"
                ),
                hint_text=f"grant {' '.join(needed)} to the API client on the tenant",
            )
        ctx.reporter.info(f"granted scopes: {', '.join(sorted(granted)) or 'not reported'}")


def fetch_service_stats(ctx: StageContext, backend: Backend, data: Datasets) -> None:
    with ctx.stage("Dataset stats from the service"):
        for record in ctx.recorder.snapshot().datasets:
            try:
                stats = backend.dataset_stats(record.id)
            except FeatureUnavailable as exc:
                # Nothing to compare this dataset with: the local checks stand alone.
                ctx.reporter.info(f"{record.id}: {exc}")
                continue
            data.service[record.id] = stats
            for copy in stats.copies:
                if copy.artifact:
                    ctx.reporter.info(
                        f"{copy.target}: the service's intents kept in {copy.artifact}"
                    )
            counts: dict[str, object] = {
                "service_example_count": stats.example_count,
                "service_intent_count": stats.intent_count,
            }
            if record.path is None:
                # No committed file: the service's numbers are all there is.
                counts |= {
                    "example_count": stats.example_count,
                    "intent_count": stats.intent_count,
                    "intent_distribution": dict(stats.intent_distribution),
                    "average_annotation_score": stats.average_annotation_score,
                }
            ctx.recorder.update_dataset(record.id, **counts)
            ctx.reporter.info(
                f"{record.id}: {stats.example_count} examples, {stats.intent_count} intents"
            )


def check_datasets(ctx: StageContext, data: Datasets) -> Ruling | None:
    """Run the dataset checks; a `rejected` ruling when one FAILED, else None."""
    with ctx.stage("Dataset checks"):
        inputs = [
            DatasetInput(ref=ref, local=data.local.get(ref.id), service=data.service.get(ref.id))
            for ref in ctx.config.datasets
        ]
        checks = run_checks(ctx.config, inputs, data.holdout)
        ctx.recorder.record(checks=checks, service_exports=service_exports(inputs))
        for check in checks:
            where = f"{check.dataset_id}: " if check.dataset_id else ""
            ctx.reporter.info(f"{check.status.value:>7}  {check.check}: {where}{check.message}")
            level = _announcement(check)
            if level is not None:
                # The status is in the console line and the table; a message stands alone.
                skipped = "not checked: " if check.status is CheckStatus.SKIPPED else ""
                ctx.message(
                    level, where + skipped + check.message, title=f"Dataset check {check.check}"
                )
            _point_at_examples(ctx, check)
    failed = blocking(checks)
    if not failed:
        return None
    reasons = [
        f"dataset check {c.check} failed: "
        + (f"{c.dataset_id}: " if c.dataset_id else "")
        + c.message
        for c in failed
    ]
    return Ruling(Decision.REJECTED, reasons[0], tuple(reasons))


def _point_at_examples(ctx: StageContext, check: CheckResult) -> None:
    """The offending examples of a failed or warning check, each where it is (an error or
    warning at file:line), the first few and then how many more: the check's own message
    only counts them."""
    if check.status not in (CheckStatus.FAILED, CheckStatus.WARNING) or not check.locations:
        return
    level = "error" if check.status is CheckStatus.FAILED else "warning"
    title = f"Dataset check {check.check}"
    for location in check.locations[:LOCATED_MESSAGES]:
        ctx.message(level, location.text, title=title, file=location.file, line=location.line)
    total = check.value if isinstance(check.value, int) else len(check.locations)
    if total > LOCATED_MESSAGES:
        ctx.message(
            level,
            f"{total - LOCATED_MESSAGES} more for {check.check} than shown here; the audit "
            f"record lists the first {len(check.locations)} with file and line",
            title=title,
        )


def _announcement(check: CheckResult) -> str | None:
    """The message level a check's outcome deserves beyond the checks table, if any."""
    if check.status is CheckStatus.WARNING:
        return "warning"  # failed, but configured not to block: say so loudly
    if check.status is CheckStatus.SKIPPED and check.check in _NOTICE_WHEN_SKIPPED:
        return "notice"
    return None


def _dataset_record(dataset_id: str, path: str | None, local: Dataset | None) -> DatasetRecord:
    if local is None:
        return DatasetRecord(id=dataset_id, path=path)
    return DatasetRecord(
        id=dataset_id,
        path=path,
        sha256=local.sha256,
        example_count=len(local.examples),
        intent_count=len(local.intent_distribution),
        intent_distribution=dict(local.intent_distribution),
        average_annotation_score=local.average_annotation_score,
    )

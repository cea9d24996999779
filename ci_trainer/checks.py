"""The dataset gate: quality checks on the training data, as `CheckResult`s.

Each check is a pure function of the config's thresholds and the data. The data of a
dataset comes from the committed file (`local`), from the service's stats (`service`),
or both; when both exist, figures are computed from the file and the two are compared
(the service may be training on something other than what is in git). Everything is
linear in the number of examples: counts and sets, no pairwise comparison. The checks
that compare utterances live in `ci_trainer.utterance_checks`; `run_checks` runs all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ci_trainer.backend_types import DatasetStats, ServiceCopy
from ci_trainer.config.model import DatasetRef, TrainingConfig, ValidationSection
from ci_trainer.datasets import Dataset
from ci_trainer.datasets.utterances import UtteranceIndex
from ci_trainer.intents_diff import compare, describe, totals
from ci_trainer.result import CheckResult, CheckStatus, ServiceExport
from ci_trainer.utterance_checks import (
    DUPLICATES,
    HOLDOUT_LEAKAGE,
    LABEL_CONFLICTS,
    MAX_DETAILS,
    check_duplicates,
    check_holdout_leakage,
    check_label_conflicts,
    local_datasets,
)
from ci_trainer.utterance_checks import capped as _names
from ci_trainer.utterance_checks import plural_s as _s

__all__ = [
    "ANNOTATION_SCORE",
    "DUPLICATES",
    "HOLDOUT_LEAKAGE",
    "IMBALANCE",
    "LABEL_CONFLICTS",
    "MAX_DETAILS",
    "MIN_EXAMPLES",
    "SERVICE_MISMATCH",
    "DatasetInput",
    "blocking",
    "check_annotation_score",
    "check_duplicates",
    "check_holdout_leakage",
    "check_imbalance",
    "check_label_conflicts",
    "check_min_examples",
    "check_service_mismatch",
    "distribution_differences",
    "run_checks",
]

IMBALANCE = "imbalance_ratio"
ANNOTATION_SCORE = "annotation_score"
MIN_EXAMPLES = "min_examples_per_intent"
SERVICE_MISMATCH = "service_mismatch"


@dataclass(frozen=True)
class DatasetInput:
    """One configured dataset with whatever data is available for it."""

    ref: DatasetRef
    local: Dataset | None = None
    service: DatasetStats | None = None

    @property
    def distribution(self) -> dict[str, int] | None:
        """Examples per intent: from the committed file when present, else the service."""
        if self.local is not None:
            return self.local.intent_distribution
        if self.service is not None:
            return dict(self.service.intent_distribution)
        return None

    @property
    def source(self) -> str:
        return "committed file" if self.local is not None else "service stats"


def run_checks(
    config: TrainingConfig, datasets: list[DatasetInput], holdout: Dataset | None
) -> list[CheckResult]:
    """Every check of the dataset gate, in a stable order: per dataset, then across."""
    rules = config.validation
    results: list[CheckResult] = []
    for item in datasets:
        results.append(check_imbalance(item, rules))
        results.append(check_annotation_score(item, rules))
        results.append(check_min_examples(item, rules))
        results.append(check_service_mismatch(item, rules))
    index = UtteranceIndex.build(local_datasets(datasets))
    results.append(check_label_conflicts(datasets, rules, index))
    results.append(check_duplicates(datasets, rules, index))
    results.append(
        check_holdout_leakage(datasets, holdout, rules, configured=config.holdout, index=index)
    )
    return results


def service_exports(datasets: list[DatasetInput]) -> list[ServiceExport]:
    """Every service copy the backend gave (v2's exports), with what the import changes."""
    return [
        compare(item.ref.id, item.local, copy)
        if item.local is not None
        else ServiceExport(dataset_id=item.ref.id, target=copy.target, path=copy.artifact)
        for item in datasets
        if item.service is not None
        for copy in item.service.copies
    ]


def blocking(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results that fail the gate (warnings and skips do not)."""
    return [result for result in results if result.status is CheckStatus.FAILED]


def check_imbalance(item: DatasetInput, rules: ValidationSection) -> CheckResult:
    counts = item.distribution
    limit = rules.max_imbalance_ratio
    if not counts:
        return _no_data(IMBALANCE, item, limit)
    largest = max(counts, key=lambda intent: (counts[intent], intent))
    smallest = min(counts, key=lambda intent: (counts[intent], intent))
    if counts[smallest] == 0:
        return CheckResult(
            check=IMBALANCE,
            dataset_id=item.ref.id,
            status=CheckStatus.FAILED,
            value=None,
            threshold=limit,
            message=f"intent '{smallest}' has no examples, so the ratio is unbounded "
            f"({item.source})",
            details=_names(sorted(intent for intent, count in counts.items() if count == 0)),
        )
    ratio = round(counts[largest] / counts[smallest], 3)
    passed = ratio <= limit
    relation = "<=" if passed else ">"
    return CheckResult(
        check=IMBALANCE,
        dataset_id=item.ref.id,
        status=CheckStatus.PASSED if passed else CheckStatus.FAILED,
        value=ratio,
        threshold=limit,
        message=f"imbalance ratio {ratio:.2f} {relation} {limit:g}: largest intent "
        f"'{largest}' has {counts[largest]} examples, smallest '{smallest}' has "
        f"{counts[smallest]} ({item.source})",
    )


def check_annotation_score(item: DatasetInput, rules: ValidationSection) -> CheckResult:
    limit = rules.min_annotation_score
    if item.local is None and item.service is None:
        return _no_data(ANNOTATION_SCORE, item, limit)
    score, source = _annotation_score(item)
    if score is None:
        return CheckResult(
            check=ANNOTATION_SCORE,
            dataset_id=item.ref.id,
            status=CheckStatus.SKIPPED,
            threshold=limit,
            message="skipped: the data carries no annotation scores",
        )
    score = round(score, 4)
    passed = score >= limit
    relation = ">=" if passed else "<"
    return CheckResult(
        check=ANNOTATION_SCORE,
        dataset_id=item.ref.id,
        status=CheckStatus.PASSED if passed else CheckStatus.FAILED,
        value=score,
        threshold=limit,
        message=f"average annotation score {score:.3f} {relation} {limit:g} ({source})",
    )


def _annotation_score(item: DatasetInput) -> tuple[float | None, str]:
    """The file's average when it has scores; the service's otherwise (CSV exports
    carry no scores, while the service may still know them)."""
    if item.local is not None:
        local = item.local.average_annotation_score
        if local is not None:
            return local, "committed file"
    if item.service is not None and item.service.average_annotation_score is not None:
        return item.service.average_annotation_score, "service stats"
    return None, ""


def check_min_examples(item: DatasetInput, rules: ValidationSection) -> CheckResult:
    counts = item.distribution
    floor = rules.min_examples_per_intent
    if not counts:
        return _no_data(MIN_EXAMPLES, item, floor)
    below = sorted(
        (intent for intent, count in counts.items() if count < floor),
        key=lambda intent: (counts[intent], intent),
    )
    fewest = min(counts.values())
    if not below:
        return CheckResult(
            check=MIN_EXAMPLES,
            dataset_id=item.ref.id,
            status=CheckStatus.PASSED,
            value=fewest,
            threshold=floor,
            message=f"every intent has at least {floor} examples (fewest: {fewest}, {item.source})",
        )
    return CheckResult(
        check=MIN_EXAMPLES,
        dataset_id=item.ref.id,
        status=CheckStatus.FAILED,
        value=fewest,
        threshold=floor,
        message=f"{len(below)} intent{_s(len(below))} below {floor} examples: "
        f"{_list_inline(below)} ({item.source})",
        details=_names(f"{intent}: {counts[intent]}" for intent in below),
    )


def check_service_mismatch(item: DatasetInput, rules: ValidationSection) -> CheckResult:
    if item.local is None or item.service is None:
        missing = (
            "no committed file (datasets[].path)" if item.local is None else "no service stats"
        )
        return CheckResult(
            check=SERVICE_MISMATCH,
            dataset_id=item.ref.id,
            status=CheckStatus.SKIPPED,
            message=f"skipped: {missing} to compare with",
        )
    if item.service.copies:
        return _sentence_mismatch(item, item.local, item.service.copies, rules)
    differences = distribution_differences(item.local.intent_distribution, item.service)
    if not differences:
        return CheckResult(
            check=SERVICE_MISMATCH,
            dataset_id=item.ref.id,
            status=CheckStatus.PASSED,
            value=0,
            threshold=0,
            message=f"the service holds the committed data ({item.service.example_count} "
            f"examples in {item.service.intent_count} intents)",
        )
    differing = [found.intent for found in differences if found.intent is not None]
    return CheckResult(
        check=SERVICE_MISMATCH,
        dataset_id=item.ref.id,
        status=CheckStatus.FAILED if rules.fail_on_service_mismatch else CheckStatus.WARNING,
        value=len(differences),
        threshold=0,
        message=f"the service's data differs from the committed file '{item.local.path}'"
        + (
            f" in {len(differing)} intent{_s(len(differing))}: {_list_inline(differing)}"
            if differing
            else f": {differences[0].text}"
        )
        + "; the service may be training on data that is not in git",
        details=_names(found.text for found in differences),
    )


def _sentence_mismatch(
    item: DatasetInput, local: Dataset, copies: list[ServiceCopy], rules: ValidationSection
) -> CheckResult:
    """The v2 form: the service's copies (exports) against the file, sentence by sentence."""
    exports = [compare(item.ref.id, local, copy) for copy in copies]
    differing = [export for export in exports if export.differs]
    where = ", ".join(export.target for export in exports)
    if not differing:
        return CheckResult(
            check=SERVICE_MISMATCH,
            dataset_id=item.ref.id,
            status=CheckStatus.PASSED,
            value=0,
            threshold=0,
            message=f"the service holds exactly the committed intents and sentences ({where})",
        )
    count = totals(differing)
    return CheckResult(
        check=SERVICE_MISMATCH,
        dataset_id=item.ref.id,
        status=CheckStatus.FAILED if rules.fail_on_service_mismatch else CheckStatus.WARNING,
        value=sum(count.values()),
        threshold=0,
        message=f"importing '{local.path}' would add {count['added']}, change "
        f"{count['changed']} and delete {count['deleted']} intents on the service "
        f"({', '.join(export.target for export in differing)}); what it held is kept "
        "in the intents export",
        details=_names(line for export in differing for line in describe(export)),
    )


@dataclass(frozen=True)
class Difference:
    """One way the service's data differs from the file; `intent` is None for totals."""

    intent: str | None
    text: str


def distribution_differences(local: Mapping[str, int], service: DatasetStats) -> list[Difference]:
    """Differences between the file's and the service's counts, per intent first."""
    remote = service.intent_distribution
    found = []
    for intent in sorted(set(local) | set(remote)):
        here, there = local.get(intent), remote.get(intent)
        if here == there:
            continue
        if there is None:
            text = f"{intent}: {here} in the file, missing on the service"
        elif here is None:
            text = f"{intent}: {there} on the service, missing in the file"
        else:
            text = f"{intent}: {here} in the file, {there} on the service"
        found.append(Difference(intent, text))
    if found:
        return found
    # Same distribution but other totals: the service's summary disagrees with itself.
    total = sum(local.values())
    if total != service.example_count:
        found.append(
            Difference(
                None, f"example count: {total} in the file, {service.example_count} on the service"
            )
        )
    if len(local) != service.intent_count:
        found.append(
            Difference(
                None,
                f"intent count: {len(local)} in the file, {service.intent_count} on the service",
            )
        )
    return found


def _no_data(check: str, item: DatasetInput, threshold: float) -> CheckResult:
    return CheckResult(
        check=check,
        dataset_id=item.ref.id,
        status=CheckStatus.SKIPPED,
        threshold=threshold,
        message="skipped: no committed file and no service stats for this dataset",
    )


def _list_inline(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

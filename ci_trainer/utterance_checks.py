"""The dataset checks that compare utterances: the same utterance under two intents, the
same text twice under one intent, and holdout utterances found in the training data.

All three read one `UtteranceIndex` of the training data (built once per run), and each
result lists its offending examples with file and line (`CheckResult.locations`), which
the pipeline shows as located errors on the console, as annotations and in the summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Protocol

from ci_trainer.config.model import DatasetRef, HoldoutSection, ValidationSection
from ci_trainer.datasets import Dataset, normalise_text
from ci_trainer.datasets.utterances import Place, UtteranceIndex
from ci_trainer.result import CheckResult, CheckStatus, Location
from ci_trainer.workspace import shown_path

LABEL_CONFLICTS = "label_conflicts"
HOLDOUT_LEAKAGE = "holdout_leakage"
DUPLICATES = "duplicate_examples"

MAX_DETAILS = 20
"""Listed names (and locations) per check; the rest is counted, so a record stays readable."""


class DatasetLike(Protocol):
    """What these checks read of a configured dataset (`checks.DatasetInput`)."""

    @property
    def ref(self) -> DatasetRef: ...

    @property
    def local(self) -> Dataset | None: ...


def check_label_conflicts(
    datasets: Sequence[DatasetLike], rules: ValidationSection, index: UtteranceIndex | None = None
) -> CheckResult:
    """The same normalised utterance under two intents, across all training data (the
    model is trained on the union, so a conflict between two files counts too)."""
    local = local_datasets(datasets)
    if not local:
        return CheckResult(
            check=LABEL_CONFLICTS,
            dataset_id=None,
            status=CheckStatus.SKIPPED,
            message="skipped: needs the utterances, and no dataset has a committed file",
        )
    conflicts = (index or UtteranceIndex.build(local)).conflicts
    note = unchecked_note(datasets)
    if not conflicts:
        return CheckResult(
            check=LABEL_CONFLICTS,
            dataset_id=None,
            status=CheckStatus.PASSED,
            value=0,
            threshold=0,
            message=f"no utterance appears under two intents{note}",
        )
    count = len(conflicts)
    return CheckResult(
        check=LABEL_CONFLICTS,
        dataset_id=None,
        status=CheckStatus.FAILED if rules.fail_on_label_conflicts else CheckStatus.WARNING,
        value=count,
        threshold=0,
        message=f"{count} utterance{plural_s(count)} {'appears' if count == 1 else 'appear'} "
        f"under more than one intent{note}",
        details=capped(
            f"'{text}': "
            + ", ".join(f"{intent} ({place.where()})" for intent, place in places.items())
            for text, places in conflicts.items()
        ),
        locations=_first(_conflict_location(places) for places in conflicts.values()),
    )


def _conflict_location(places: dict[str, Place]) -> Location:
    """At the utterance's first example under the last intent found, naming the others."""
    *others, (intent, here) = places.items()
    elsewhere = ", ".join(f"{name} at {_shown(place)}" for name, place in others)
    return _location(
        here, f"'{_clip(here.example.text)}' is under {intent} here and under {elsewhere}"
    )


def check_duplicates(
    datasets: Sequence[DatasetLike], rules: ValidationSection, index: UtteranceIndex | None = None
) -> CheckResult:
    """The same text twice under one intent, across all training data: the repeat adds
    nothing but weight, and usually is a copy-paste slip."""
    local = local_datasets(datasets)
    limit = rules.max_duplicate_examples
    if not local:
        return CheckResult(
            check=DUPLICATES,
            dataset_id=None,
            status=CheckStatus.SKIPPED,
            threshold=limit,
            message="skipped: needs the utterances, and no dataset has a committed file",
        )
    repeats = (index or UtteranceIndex.build(local)).repeats
    count = len(repeats)
    note = unchecked_note(datasets)
    passed = count <= limit
    relation = "<=" if passed else ">"
    what = f"{count} duplicate example{plural_s(count)} (the same text twice under one intent)"
    return CheckResult(
        check=DUPLICATES,
        dataset_id=None,
        status=CheckStatus.PASSED if passed else CheckStatus.FAILED,
        value=count,
        threshold=limit,
        message=f"{what} {relation} {limit}{note}" if count else f"no duplicate example{note}",
        details=capped(
            f"'{repeat.place.example.text}' ({repeat.place.example.intent}): "
            f"{repeat.place.where()}, first at {repeat.first.where()}"
            for repeat in repeats
        ),
        locations=_first(
            _location(
                repeat.place,
                f"'{_clip(repeat.place.example.text)}' is already under "
                f"{repeat.place.example.intent} at {_shown(repeat.first)}",
            )
            for repeat in repeats
        ),
    )


def check_holdout_leakage(
    datasets: Sequence[DatasetLike],
    holdout: Dataset | None,
    rules: ValidationSection,
    *,
    configured: HoldoutSection | None = None,
    index: UtteranceIndex | None = None,
) -> CheckResult:
    """Holdout utterances that also appear in the training data (normalised)."""
    local = local_datasets(datasets)
    if holdout is None:
        reason = "the holdout file was not loaded" if configured else "no holdout set configured"
        return CheckResult(
            check=HOLDOUT_LEAKAGE,
            dataset_id=None,
            status=CheckStatus.SKIPPED,
            message=f"skipped: {reason}",
        )
    if not local:
        return CheckResult(
            check=HOLDOUT_LEAKAGE,
            dataset_id=None,
            status=CheckStatus.SKIPPED,
            message="skipped: needs the training utterances, and no dataset has a committed file",
        )
    training = (index or UtteranceIndex.build(local)).first_seen
    leaked: dict[str, tuple[Place, Place]] = {}
    for example in holdout.examples:
        key = normalise_text(example.text)
        if key in training and key not in leaked:
            leaked[key] = (Place(example, holdout.path), training[key])
    note = unchecked_note(datasets)
    if not leaked:
        return CheckResult(
            check=HOLDOUT_LEAKAGE,
            dataset_id=None,
            status=CheckStatus.PASSED,
            value=0,
            threshold=0,
            message=f"none of the {len(holdout.examples)} holdout utterances is in the "
            f"training data{note}",
        )
    return CheckResult(
        check=HOLDOUT_LEAKAGE,
        dataset_id=None,
        status=CheckStatus.FAILED if rules.fail_on_holdout_leakage else CheckStatus.WARNING,
        value=len(leaked),
        threshold=0,
        message=f"{len(leaked)} of {len(holdout.examples)} holdout utterances are also in "
        f"the training data, so holdout scores overstate the model{note}",
        details=capped(
            f"'{place.example.text}' ({place.example.intent}, {place.where()})"
            for place, _ in leaked.values()
        ),
        locations=_first(
            _location(
                place,
                f"holdout utterance '{_clip(place.example.text)}' ({place.example.intent}) is "
                f"also in the training data at {_shown(trained)} ({trained.example.intent})",
            )
            for place, trained in leaked.values()
        ),
    )


def unchecked_note(datasets: Sequence[DatasetLike]) -> str:
    unchecked = [item.ref.id for item in datasets if item.local is None]
    if not unchecked:
        return ""
    return f" (not checked, no committed file: {', '.join(unchecked)})"


def local_datasets(datasets: Sequence[DatasetLike]) -> list[Dataset]:
    return [item.local for item in datasets if item.local is not None]


def _shown(place: Place) -> str:
    return place.where(shown_path(place.path))


def _location(place: Place, text: str) -> Location:
    return Location(file=shown_path(place.path), line=place.example.line, text=text)


def _first(locations: Iterable[Location]) -> list[Location]:
    """The first MAX_DETAILS locations (`value` counts them all)."""
    return list(islice(locations, MAX_DETAILS))


def _clip(text: str, limit: int = 80) -> str:
    """An utterance short enough for one annotation line (the file has it whole)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def capped(items: Iterable[str]) -> list[str]:
    """The first MAX_DETAILS items, then one saying how many more there were."""
    shown: list[str] = []
    hidden = 0
    for item in items:
        if len(shown) < MAX_DETAILS:
            shown.append(item)
        else:
            hidden += 1
    if hidden:
        shown.append(f"... and {hidden} more")
    return shown


def plural_s(count: int) -> str:
    """The plural ending of a counted noun."""
    return "" if count == 1 else "s"

"""service_mismatch in its sentence form: the service's copies (v2's intents exports)
against the committed file, intent by intent and sentence by sentence."""

from __future__ import annotations

from ci_trainer.backend_types import DatasetStats, ServiceCopy
from ci_trainer.checks import DatasetInput, check_service_mismatch, service_exports
from ci_trainer.config.model import DatasetRef, ValidationSection
from ci_trainer.datasets import Dataset, parse_dataset
from ci_trainer.intents_diff import MAX_CHARS, MAX_LISTED, compare
from ci_trainer.result import CheckStatus

FILE = "track:\n  - where is it\n  - track it\n  - my parcel\ncancel:\n  - stop it\n"
RULES = ValidationSection()


def committed() -> Dataset:
    return parse_dataset(FILE, "intents.yaml")


def copy(sentences: dict[str, list[str]], target: str = "Shop/en") -> ServiceCopy:
    return ServiceCopy(target=target, sentences=sentences, artifact=f"/run/{target}.json")


def item(*copies: ServiceCopy) -> DatasetInput:
    first = copies[0].sentences
    stats = DatasetStats(
        dataset_id="ds",
        example_count=sum(map(len, first.values())),
        intent_count=len(first),
        intent_distribution={k: len(v) for k, v in first.items()},
        copies=list(copies),
    )
    return DatasetInput(
        ref=DatasetRef(id="ds", path="intents.yaml"), local=committed(), service=stats
    )


def test_the_same_sentences_in_another_order_pass() -> None:
    same = copy({"cancel": ["stop it"], "track": ["my parcel", "where is it", "track it"]})
    result = check_service_mismatch(item(same), RULES)
    assert result.status is CheckStatus.PASSED
    assert "exactly the committed intents and sentences (Shop/en)" in result.message


def test_added_changed_and_deleted_intents_are_named_per_target() -> None:
    tenant = copy({"track": ["where is it", "track it", "old line"], "legacy": ["x"]})
    current = copy(
        {"track": ["where is it", "track it", "my parcel"], "cancel": ["stop it"]}, "Shop/de"
    )
    result = check_service_mismatch(item(tenant, current), RULES)
    assert result.status is CheckStatus.WARNING  # fail_on_service_mismatch is false
    assert result.details == [
        "Shop/en: adds intent 'cancel'",
        "Shop/en: deletes intent 'legacy'",
        "Shop/en: changes intent 'track' (+1 sentence, -1 sentence, e.g. 'my parcel')",
    ]
    assert "would add 1, change 1 and delete 1 intents on the service (Shop/en)" in result.message


def test_a_mismatch_fails_when_configured() -> None:
    result = check_service_mismatch(
        item(copy({"track": ["where is it"]})), ValidationSection(fail_on_service_mismatch=True)
    )
    assert result.status is CheckStatus.FAILED


def test_long_lists_and_long_texts_are_cut_and_counted() -> None:
    tenant = copy({f"old_{i:03}": ["x"] for i in range(MAX_LISTED + 5)} | {"cancel": ["y" * 5000]})
    export = compare("ds", committed(), tenant)
    assert len(export.intents_deleted) == MAX_LISTED
    assert export.intents_deleted_count == MAX_LISTED + 5
    assert export.intents_added_count == 1 and export.differs
    (cancel,) = export.intents_changed
    assert cancel.removed_count == 1 and len(cancel.removed[0]) == MAX_CHARS


def test_the_records_keep_where_each_copy_is() -> None:
    exports = service_exports([item(copy({"cancel": ["stop it"]}))])
    assert [(e.target, e.path, e.intents_added) for e in exports] == [
        ("Shop/en", "/run/Shop/en.json", ["track"])
    ]

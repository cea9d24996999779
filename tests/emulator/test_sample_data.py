"""The committed sample: what issue 3 promises of it, and that it runs as-is."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.cli import main
from ci_trainer.config import load_config
from ci_trainer.datasets import load_dataset, normalise_text

from .conftest import SAMPLE_CONFIG, SAMPLE_CSV, SAMPLE_HOLDOUT, SAMPLE_YAML, ApiClient, train_body


def test_yaml_dataset_has_12_plus_intents_of_30_plus_and_one_small_intent() -> None:
    dataset = load_dataset(SAMPLE_YAML)
    counts = dataset.intent_distribution
    assert dataset.format == "yaml"
    large = {intent: n for intent, n in counts.items() if n >= 30}
    assert len(large) >= 12
    small = {intent: n for intent, n in counts.items() if n < 30}
    assert list(small) == ["report_fraud"]
    assert max(counts.values()) / min(counts.values()) > 5  # trips the advised limit


def test_some_examples_carry_annotation_scores() -> None:
    dataset = load_dataset(SAMPLE_YAML)
    scored = [e for e in dataset.examples if e.score is not None]
    assert 0 < len(scored) < len(dataset.examples)
    assert {e.intent for e in scored} == set(dataset.intents)


def test_examples_are_varied_not_repeated() -> None:
    examples = load_dataset(SAMPLE_YAML).examples + load_dataset(SAMPLE_CSV).examples
    keys = Counter(normalise_text(e.text) for e in examples)
    assert [key for key, n in keys.items() if n > 1] == []
    for intent in {e.intent for e in examples}:
        texts = [e.text for e in examples if e.intent == intent]
        assert len({t.split()[0].lower() for t in texts}) >= 5, intent


def test_csv_is_a_cognigy_export_with_other_property_rows() -> None:
    dataset = load_dataset(SAMPLE_CSV)
    assert dataset.format == "cognigy-csv"
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    kinds = Counter(line.split(",")[1] for line in lines)
    assert kinds["exampleSentence"] == len(dataset.examples)
    assert set(kinds) > {"exampleSentence"}
    assert all(n >= 30 for n in dataset.intent_distribution.values())


def test_holdout_covers_every_intent_and_never_leaks() -> None:
    holdout = load_dataset(SAMPLE_HOLDOUT)
    training = load_dataset(SAMPLE_YAML).examples + load_dataset(SAMPLE_CSV).examples
    assert set(holdout.intents) == {e.intent for e in training}
    seen = {normalise_text(e.text) for e in training}
    assert [e.text for e in holdout.examples if normalise_text(e.text) in seen] == []


def test_sample_config_loads_and_points_at_the_sample() -> None:
    loaded = load_config(SAMPLE_CONFIG)
    config = loaded.config
    assert SAMPLE_CONFIG.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=ci_trainer/schemas/training-config.schema.json\n"
    )
    assert [loaded.resolve(ref.path or "") for ref in config.datasets] == [SAMPLE_YAML, SAMPLE_CSV]
    assert config.holdout is not None
    assert loaded.resolve(config.holdout.path) == SAMPLE_HOLDOUT
    assert config.training.poll_interval_floor_seconds <= 2
    # The deliberate choice: the imbalance is visible but within this sample's limit.
    counts = load_dataset(SAMPLE_YAML).intent_distribution
    ratio = max(counts.values()) / min(counts.values())
    assert 5 < ratio <= config.validation.max_imbalance_ratio


def test_sample_trains_to_the_sample_gate_with_the_configs_hyperparameters() -> None:
    config = load_config(SAMPLE_CONFIG).config
    hyper = config.training.hyperparameters
    body = train_body(
        epochs=hyper.epochs,
        batchSize=hyper.batch_size,
        learningRate=hyper.learning_rate,
        dropout=hyper.dropout,
        earlyStoppingPatience=hyper.early_stopping_patience,
        seed=hyper.seed,
    )
    body["datasetIds"] = [ref.id for ref in config.datasets]
    with Emulator.from_config(SAMPLE_CONFIG) as emu:
        api = ApiClient(emu)
        metrics = api.metrics(api.trained_version_training(body)).json()
    assert config.gate.min_f1 is not None and config.gate.min_precision is not None
    assert metrics["f1Score"] >= config.gate.min_f1
    assert metrics["precision"] >= config.gate.min_precision


def test_sample_config_is_valid_against_the_published_json_schema() -> None:
    import json

    import yaml
    from jsonschema import validators

    schema_path = SAMPLE_CONFIG.parent / "ci_trainer" / "schemas" / "training-config.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = validators.validator_for(schema)(schema)
    config = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert [error.message for error in validator.iter_errors(config)] == []


def _datasets_readme() -> str:
    return " ".join((SAMPLE_YAML.parent / "README.md").read_text(encoding="utf-8").split())


def test_the_datasets_readme_counts_what_the_files_hold() -> None:
    shop, smalltalk = load_dataset(SAMPLE_YAML), load_dataset(SAMPLE_CSV)
    holdout = load_dataset(SAMPLE_HOLDOUT)
    readme = _datasets_readme()
    assert f"{len(shop.intent_distribution)} intents" in readme
    assert f"{len(shop.examples)} examples" in readme
    assert f"{len(smalltalk.intent_distribution)} small-talk intents" in readme
    assert f"{len(smalltalk.examples)} `exampleSentence` rows" in readme
    assert (
        f"{len(holdout.examples)} utterances over all {len(holdout.intent_distribution)} intents"
        in readme
    )
    per_intent = sorted(set(holdout.intent_distribution.values()))
    assert per_intent == [4, 6]
    small = [intent for intent, n in holdout.intent_distribution.items() if n == 4]
    assert "report_fraud" in small  # "4 for `report_fraud` and per small-talk intent"
    assert "4 for `report_fraud` and per small-talk intent" in readme
    under_30 = [i for i, n in shop.intent_distribution.items() if n < 30]
    assert under_30 == ["report_fraud"]
    assert "every intent but `report_fraud` has at least 30 varied examples" in readme


def test_the_docs_name_the_decision_the_imbalance_check_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both the sample config and datasets/README.md say what `max_imbalance_ratio: 5`
    does; the run itself decides which word is right."""
    config_text = SAMPLE_CONFIG.read_text(encoding="utf-8")
    shutil.copytree(SAMPLE_YAML.parent, tmp_path / "datasets")
    (tmp_path / "training-config.yaml").write_text(
        config_text.replace("max_imbalance_ratio: 7", "max_imbalance_ratio: 5"), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith(("GITHUB_", "COGNIGY_", "INPUT_"))]:
        monkeypatch.delenv(name)
    code = main(["validate", "--output-dir", "out", "--audit-log", "audit.log"])
    outputs = json.loads((tmp_path / "out" / "outputs.json").read_text(encoding="utf-8"))
    assert (code, outputs["decision"]) == (1, "rejected")
    said_by_config = re.search(r"limit is 5, which would make this run `(\w+)`", config_text)
    said_by_readme = re.search(r"stop the run as `(\w+)`", _datasets_readme())
    assert said_by_config is not None and said_by_readme is not None
    assert said_by_config.group(1) == said_by_readme.group(1) == outputs["decision"]

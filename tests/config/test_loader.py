"""load_config on good configs: values, defaults, provenance, locations, merge keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ci_trainer.config import LoadedConfig, load_config, parse_config
from ci_trainer.errors import ConfigError

from .conftest import ConfigWriter

FULL = """\
version: 1
model:
  id: model_intent_router
datasets:
  - id: ds_intent_001
    path: data/intents.yaml
  - id: ds_intent_002
holdout:
  path: data/holdout.yaml
validation:
  max_imbalance_ratio: 4
  min_annotation_score: 0.9
  min_examples_per_intent: 2
  fail_on_label_conflicts: false
training:
  validation_split: 0.25
  hyperparameters: {epochs: 20, batch_size: 16, learning_rate: 0.01, seed: 7}
  poll_interval_floor_seconds: 0.5
  retry_on_failure: {attempts: 1, batch_size_factor: 0.5}
gate:
  min_f1: 0.8
  min_precision: null
  per_intent: {min_f1: 0.5, min_support: 3}
webhook:
  secret_env: REGISTRY_HMAC
audit:
  path: logs/audit.jsonl
"""


def test_full_config_loads_with_every_value(write_config: ConfigWriter) -> None:
    path = write_config(FULL)
    loaded = load_config(path)
    config = loaded.config
    assert config.model.id == "model_intent_router"
    assert [(d.id, d.path) for d in config.datasets] == [
        ("ds_intent_001", "data/intents.yaml"),
        ("ds_intent_002", None),
    ]
    assert config.holdout is not None and config.holdout.path == "data/holdout.yaml"
    assert config.validation.max_imbalance_ratio == 4.0
    assert config.validation.fail_on_label_conflicts is False
    assert config.training.hyperparameters.epochs == 20
    assert config.training.hyperparameters.seed == 7
    assert config.training.retry_on_failure.attempts == 1
    assert config.gate.min_precision is None
    assert config.gate.per_intent is not None and config.gate.per_intent.min_support == 3
    assert config.webhook.secret_env == "REGISTRY_HMAC"
    assert config.webhook.url_env == "WEBHOOK_URL"


def test_provenance_fields(write_config: ConfigWriter, workspace: Path) -> None:
    path = write_config(FULL)
    loaded = load_config(path)
    assert loaded.path == path
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.workspace == workspace.resolve()


def test_minimal_config_takes_the_seed_defaults(write_config: ConfigWriter) -> None:
    loaded = load_config(write_config("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\n"))
    config = loaded.config
    assert config.validation.max_imbalance_ratio == 5.0
    assert config.validation.min_annotation_score == 0.85
    assert config.gate.min_f1 == 0.85 and config.gate.min_precision == 0.80
    assert config.training.hyperparameters.epochs == 50
    assert config.training.hyperparameters.batch_size == 32
    assert config.audit.path == "cognigy_training_audit.log"


def test_resolve_is_relative_to_the_config_directory(workspace: Path) -> None:
    sub = workspace / "ml"
    (sub / "data").mkdir(parents=True)
    (sub / "data" / "x.yaml").write_text("a:\n  - b\n", encoding="utf-8")
    path = sub / "training-config.yaml"
    path.write_text(
        "version: 1\nmodel: {id: m}\ndatasets: [{id: ds, path: data/x.yaml}]\n", encoding="utf-8"
    )
    loaded = load_config(path)
    assert loaded.resolve("data/x.yaml") == (sub / "data" / "x.yaml").resolve()
    # ../ is fine while it stays inside the workspace.
    assert loaded.resolve("../data/intents.yaml") == (workspace / "data/intents.yaml").resolve()


def test_resolve_rejects_escapes_at_the_field_line(write_config: ConfigWriter) -> None:
    loaded = load_config(write_config(FULL))
    with pytest.raises(ConfigError) as caught:
        loaded.resolve("../../etc/passwd")
    (issue,) = caught.value.issues
    assert issue.line is None and issue.field == ""
    assert issue.message.startswith("path not allowed: '../../etc/passwd' resolves to ")


def test_resolve_names_the_field_that_holds_the_path(workspace: Path) -> None:
    # Loaded without the workspace check (another workspace), then resolved against a
    # narrower one: the error points at the field holding that path.
    (workspace / "cfg").mkdir()
    path = workspace / "cfg" / "training-config.yaml"
    path.write_text(
        "version: 1\nmodel: {id: m}\ndatasets:\n  - id: ds\n    path: ../data/intents.yaml\n",
        encoding="utf-8",
    )
    loaded = load_config(path)
    narrowed = LoadedConfig(
        config=loaded.config,
        path=loaded.path,
        sha256=loaded.sha256,
        workspace=workspace / "cfg",
        marks=loaded.marks,
    )
    with pytest.raises(ConfigError) as caught:
        narrowed.resolve("../data/intents.yaml")
    (issue,) = caught.value.issues
    assert (issue.line, issue.column, issue.field) == (5, 11, "datasets[0].path")


def test_merge_keys_work_like_safe_load(write_config: ConfigWriter) -> None:
    text = """\
    version: 1
    model: {id: m}
    datasets:
      - &base {id: ds_a, path: data/intents.yaml}
      - <<: *base
        id: ds_b
    """
    config = load_config(write_config(text)).config
    assert [(d.id, d.path) for d in config.datasets] == [
        ("ds_a", "data/intents.yaml"),
        ("ds_b", "data/intents.yaml"),
    ]


def test_every_problem_is_reported_at_once(write_config: ConfigWriter) -> None:
    text = """\
    version: 1
    model: {id: m}
    datasets:
      - id: ds
        path: data/missing.yaml
    gate: {min_f1: 2, min_recal: 0.5}
    training: {hyperparameters: {epochs: 1}}
    password: hunter2
    """
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    fields = [issue.field for issue in caught.value.issues]
    assert fields == [
        "datasets[0].path",
        "gate.min_f1",
        "gate.min_recal",
        "training.hyperparameters.epochs",
        "password",
    ]
    assert str(caught.value).startswith("5 problems in the training config:\n  ")


def test_secret_values_never_appear_in_the_error(write_config: ConfigWriter) -> None:
    text = """\
    version: 1
    model: {id: m, token: tok-9f8e7d6c}
    datasets: [{id: ds}]
    webhook: {secret: whsec-1a2b3c, api_key: ak-445566}
    credentials: {client_secret: cs-778899}
    """
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    text_out = str(caught.value)
    for secret in ("tok-9f8e7d6c", "whsec-1a2b3c", "ak-445566", "cs-778899"):
        assert secret not in text_out
    assert [issue.field for issue in caught.value.issues] == [
        "model.token",
        "webhook.secret",
        "webhook.api_key",
        "credentials",
    ]


def test_env_var_names_and_empty_secret_keys_are_not_secrets(write_config: ConfigWriter) -> None:
    text = """\
    version: 1
    model: {id: m}
    datasets: [{id: ds}]
    webhook: {secret_env: MY_SECRET, url_env: MY_URL}
    token:
    """
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    # `token:` with no value is just an unknown key, not a leaked secret.
    (issue,) = caught.value.issues
    assert (issue.field, issue.message) == ("token", "unknown key `token`")


def test_missing_and_unreadable_config_files(workspace: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("nope.yaml")
    assert caught.value.issues[0].message == "config file not found"
    # Relative to the current directory (the CLI) or working-directory (the action),
    # not to a repository root it never looks for.
    assert caught.value.issues[0].hint == (
        f"looked for {workspace.resolve() / 'nope.yaml'}: pass --config with the path from the "
        "current directory; the action's `config` input is relative to its `working-directory`"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(workspace / "data")
    assert caught.value.issues[0].message == "not a file"
    with pytest.raises(ConfigError) as caught:
        load_config("bad\x00name.yaml")
    assert caught.value.issues[0].message == "config file not found"


def test_non_utf8_config_names_the_line(workspace: Path) -> None:
    path = workspace / "training-config.yaml"
    path.write_bytes(b"version: 1\nmodel: {id: caf\xe9}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.issues
    assert (issue.line, issue.message, issue.hint) == (
        2,
        "the file is not UTF-8 text",
        "save it as UTF-8",
    )


def test_check_files_false_skips_existence_but_not_confinement(write_config: ConfigWriter) -> None:
    text = "version: 1\nmodel: {id: m}\ndatasets:\n  - {id: a, path: data/absent.yaml}\n"
    loaded = load_config(write_config(text), check_files=False)
    assert loaded.config.datasets[0].path == "data/absent.yaml"
    escaping = "version: 1\nmodel: {id: m}\ndatasets:\n  - {id: a, path: /etc/hostname}\n"
    with pytest.raises(ConfigError):
        load_config(write_config(escaping), check_files=False)


def test_parse_config_without_paths_checks_only_the_text() -> None:
    config, marks = parse_config(
        "version: 1\nmodel: {id: m}\ndatasets: [{id: ds, path: /anywhere.yaml}]\n", "x.yaml"
    )
    assert config.datasets[0].path == "/anywhere.yaml"
    assert marks[("datasets", 0, "path")].value.line == 3


def test_long_keys_are_cut_in_messages(write_config: ConfigWriter) -> None:
    key = "k" * 500
    with pytest.raises(ConfigError) as caught:
        load_config(
            write_config(f"version: 1\nmodel: {{id: m}}\ndatasets: [{{id: d}}]\n{key}: 1\n")
        )
    (issue,) = caught.value.issues
    assert issue.field == "k" * 57 + "..."
    assert issue.message == f"unknown key `{'k' * 57}...`"


@pytest.mark.parametrize(
    "sample", ["training-config.yaml", "examples/cognigy-v2/training-config.yaml"]
)
def test_the_project_samples_load(repo_root: Path, sample: str) -> None:
    path = repo_root / sample
    if not path.exists():
        pytest.skip(f"{sample} is not committed yet")
    loaded = load_config(path, workspace=repo_root)
    assert loaded.config.version == 1
    for ref in loaded.config.datasets:
        if ref.path:
            assert loaded.resolve(ref.path).is_file()


def test_another_version_is_reported_alone(write_config: ConfigWriter) -> None:
    text = "version: 2\nmodel: {id: m}\ndatasets: [{id: ds}]\nnew_v2_key: {a: 1}\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    (issue,) = caught.value.issues
    assert (issue.line, issue.field) == (1, "version")


def test_missing_version_does_not_hide_other_problems(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config("model: {id: m}\ndatasets: [{id: ds}]\ngate: {min_f1: 7}\n"))
    assert [issue.field for issue in caught.value.issues] == ["version", "gate.min_f1"]


def test_a_secret_is_reported_even_with_another_version(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config("version: 3\npassword: pw-5566\n"))
    assert [issue.field for issue in caught.value.issues] == ["version", "password"]
    assert "pw-5566" not in str(caught.value)

"""Broken configs: each is reported with the exact message, line, column and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_trainer.config import load_config
from ci_trainer.errors import ConfigError

from .conftest import ConfigWriter

V2_CONFIG = """\
version: 1
backend: cognigy-v2
model: {{id: m}}
datasets:
  - {{id: ds, path: data/intents.yaml}}
cognigy_v2:
  base_url: https://api-trial.cognigy.ai
  project_id: 64a1f0c2e4b0a1b2c3d4e5f6
  targets:
    - flow_id: 64a1f0c2e4b0a1b2c3d4e601
      locales: [64a1f0c2e4b0a1b2c3d4e701]
      dataset: {dataset}
  holdout_target: {holdout_target}
"""

# name -> (config text, [(line, column, field, message, hint), ...]) in report order.
# `{ws}` is the resolved workspace, `{parent}` its parent directory.
CASES: dict[str, tuple[str, list[tuple[int | None, int | None, str, str, str | None]]]] = {
    "version_missing": (
        ("model: {id: m}\ndatasets: [{id: ds}]\n"),
        [
            (
                1,
                1,
                "version",
                "required key `version` is missing; this ci-trainer reads config version 1",
                "add `version: 1` as the first line",
            ),
        ],
    ),
    "version_two": (
        ("version: 2\nmodel: {id: m}\ndatasets: [{id: ds}]\n"),
        [
            (
                1,
                10,
                "version",
                "unsupported config version 2; this ci-trainer reads version 1",
                "set `version: 1`; a newer version needs a newer ci-trainer",
            ),
        ],
    ),
    "version_true": (
        ("version: true\nmodel: {id: m}\ndatasets: [{id: ds}]\n"),
        [
            (
                1,
                10,
                "version",
                "unsupported config version true; this ci-trainer reads version 1",
                "set `version: 1`; a newer version needs a newer ci-trainer",
            ),
        ],
    ),
    "version_string": (
        ('version: "1"\nmodel: {id: m}\ndatasets: [{id: ds}]\n'),
        [
            (
                1,
                10,
                "version",
                "unsupported config version '1' (text; write the number without quotes); this ci-trainer reads version 1",
                "set `version: 1`; a newer version needs a newer ci-trainer",
            ),
        ],
    ),
    "unknown_top_key": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\nvaldation: {}\n"),
        [
            (4, 1, "valdation", "unknown key `valdation`", "did you mean `validation`?"),
        ],
    ),
    "unknown_nested_key": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\ngate:\n  min_f2: 0.9\n"),
        [
            (5, 3, "gate.min_f2", "unknown key `min_f2`", "did you mean `min_f1`?"),
        ],
    ),
    "unknown_key_no_close_match": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\npromotion:\n  colour: blue\n"),
        [
            (5, 3, "promotion.colour", "unknown key `colour`", "allowed keys here: environment"),
        ],
    ),
    "duplicate_key": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\ngate:\n  min_f1: 0.8\n  min_f1: 0.9\n"),
        [
            (
                6,
                3,
                "gate.min_f1",
                "duplicate key `min_f1` (first set on line 5)",
                "keep one of them; YAML would silently use the last",
            ),
        ],
    ),
    "missing_model": (
        ("version: 1\ndatasets: [{id: ds}]\n"),
        [
            (1, 1, "model", "required key `model` is missing", "add `model`: The model to train"),
        ],
    ),
    "missing_model_id": (
        ("version: 1\nmodel:\n  name: m\ndatasets: [{id: ds}]\n"),
        [
            (
                2,
                1,
                "model.id",
                "required key `id` is missing",
                "add `id`: Model id on the training service; the COGNIGY_MODEL_ID env var overrides it",
            ),
            (3, 3, "model.name", "unknown key `name`", "allowed keys here: id"),
        ],
    ),
    "empty_datasets": (
        ("version: 1\nmodel: {id: m}\ndatasets: []\n"),
        [
            (3, 11, "datasets", "expected a list with at least 1 item", None),
        ],
    ),
    "dataset_id_number": (
        ("version: 1\nmodel: {id: m}\ndatasets:\n  - id: ds\n  - id: 12345\n"),
        [
            (5, 9, "datasets[1].id", "expected text, got 12345", "put the value in quotes"),
        ],
    ),
    "duplicate_dataset_id": (
        "version: 1\nmodel: {id: m}\ndatasets:\n  - id: ds\n  - id: other\n  - id: ds\n",
        [
            (
                6,
                9,
                "datasets[2].id",
                "dataset id `ds` is listed twice (first as datasets[0])",
                "list each dataset once",
            ),
        ],
    ),
    "unknown_key_in_list_item": (
        "version: 1\nmodel: {id: m}\ndatasets:\n  - id: d\n    pth: data/x.yaml\n",
        [(5, 5, "datasets[0].pth", "unknown key `pth`", "did you mean `path`?")],
    ),
    "v2_backend_without_section": (
        "version: 1\nbackend: cognigy-v2\nmodel: {id: m}\ndatasets: [{id: ds}]\n",
        [
            (
                2,
                10,
                "backend",
                "backend cognigy-v2 needs a `cognigy_v2` section (base_url, project_id, targets)",
                None,
            ),
        ],
    ),
    "v2_target_names_unknown_dataset": (
        V2_CONFIG.format(dataset="nope", holdout_target=0),
        [
            (
                12,
                16,
                "cognigy_v2.targets[0].dataset",
                "targets[0].dataset `nope` must be the id of a `datasets` entry with a `path` "
                "(ids with a path: ds)",
                None,
            ),
        ],
    ),
    "v2_holdout_target_out_of_range": (
        V2_CONFIG.format(dataset="ds", holdout_target=2),
        [
            (
                13,
                19,
                "cognigy_v2.holdout_target",
                "holdout_target 2 is past the last of the 1 flow x locale targets (counting from 0)",
                None,
            ),
        ],
    ),
    "v2_bad_object_id": (
        V2_CONFIG.format(dataset="ds", holdout_target=0).replace("64a1f0c2e4b0a1b2c3d4e5f6", "abc"),
        [
            (
                8,
                15,
                "cognigy_v2.project_id",
                "expected a Cognigy _id: 24 lower-case letters and digits, copied from the "
                "resource's URL in Cognigy.AI, "
                "got the text 'abc'",
                None,
            ),
        ],
    ),
    "f1_above_one": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\ngate:\n  min_f1: 1.5\n"),
        [
            (5, 11, "gate.min_f1", "expected a number from 0.0 to 1.0, got 1.5", None),
        ],
    ),
    "epochs_too_few": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "training:\n"
            "  hyperparameters:\n"
            "    epochs: 5\n"
        ),
        [
            (
                6,
                13,
                "training.hyperparameters.epochs",
                "expected a whole number from 10 to 500, got 5",
                None,
            ),
        ],
    ),
    "batch_size_fraction": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "training:\n"
            "  hyperparameters:\n"
            "    batch_size: 12.5\n"
        ),
        [
            (
                6,
                17,
                "training.hyperparameters.batch_size",
                "expected a whole number, got 12.5",
                None,
            ),
        ],
    ),
    "learning_rate_zero": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "training:\n"
            "  hyperparameters:\n"
            "    learning_rate: 0\n"
        ),
        [
            (
                6,
                20,
                "training.hyperparameters.learning_rate",
                "expected a number above 0.0 and at most 0.1, got 0",
                None,
            ),
        ],
    ),
    "bool_as_number": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\ngate:\n  min_precision: yes\n"),
        [
            # YAML 1.1 reads `yes` as true; the message quotes what was written.
            (
                5,
                18,
                "gate.min_precision",
                "expected a number, got `yes` (YAML reads it as true)",
                None,
            ),
        ],
    ),
    "text_as_bool": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "validation:\n"
            '  fail_on_label_conflicts: "sometimes"\n'
        ),
        [
            (
                5,
                28,
                "validation.fail_on_label_conflicts",
                "expected true or false, got the text 'sometimes'",
                None,
            ),
        ],
    ),
    "section_is_list": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\ngate:\n  - min_f1: 0.9\n"),
        [
            (5, 3, "gate", "expected a mapping of keys, got a list", None),
        ],
    ),
    "datasets_is_mapping": (
        ("version: 1\nmodel: {id: m}\ndatasets:\n  id: ds\n"),
        [
            (4, 3, "datasets", "expected a list, got a mapping", None),
        ],
    ),
    "env_name_invalid": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\nwebhook:\n  secret_env: my-secret\n"),
        [
            (
                5,
                15,
                "webhook.secret_env",
                "expected the name of an environment variable, not its value",
                "letters, digits and underscores, not starting with a digit, e.g. "
                "WEBHOOK_SECRET; set the value itself in the environment",
            ),
        ],
    ),
    "webhook_url_pasted_into_url_env": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "webhook:\n"
            "  url_env: https://hooks.example.com/T0/B0/tok-12345\n"
        ),
        [
            (
                5,
                12,
                "webhook.url_env",
                "expected the name of an environment variable, not its value",
                "letters, digits and underscores, not starting with a digit, e.g. "
                "WEBHOOK_URL; set the value itself in the environment",
            ),
        ],
    ),
    "webhook_url_in_file": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "webhook:\n"
            "  url: https://hooks.example.com/T0/B0/tok-12345\n"
        ),
        [
            (
                5,
                3,
                "webhook.url",
                "`url` looks like a secret written into the config; secrets must not be committed",
                "remove it, rotate it, and set it in the environment variable named by "
                "`webhook.url_env`, WEBHOOK_URL by default, e.g. from a repository secret",
            ),
        ],
    ),
    "unknown_key_other_case": (
        "version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\ngate: {Min-F1: 0.9}\n",
        [(4, 8, "gate.Min-F1", "unknown key `Min-F1`", "did you mean `min_f1`?")],
    ),
    "client_secret_in_file": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\nclient_secret: s3cr3t-value\n"),
        [
            (
                4,
                1,
                "client_secret",
                "`client_secret` looks like a secret written into the config; secrets must not be committed",
                "remove it, rotate it, and set it in the environment variables COGNIGY_CLIENT_ID / COGNIGY_CLIENT_SECRET, e.g. from a repository secret",
            ),
        ],
    ),
    "webhook_secret_in_file": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\nwebhook:\n  secret: hmac-key-123\n"),
        [
            (
                5,
                3,
                "webhook.secret",
                "`secret` looks like a secret written into the config; secrets must not be committed",
                "remove it, rotate it, and set it in the environment variable named by `webhook.secret_env`, WEBHOOK_SECRET by default, e.g. from a repository secret",
            ),
        ],
    ),
    "token_nested": (
        ("version: 1\nmodel:\n  id: m\n  api_token: abc123\ndatasets: [{id: ds}]\n"),
        [
            (
                4,
                3,
                "model.api_token",
                "`api_token` looks like a secret written into the config; secrets must not be committed",
                "remove it, rotate it, and set it in the environment variables COGNIGY_CLIENT_ID / COGNIGY_CLIENT_SECRET, e.g. from a repository secret",
            ),
        ],
    ),
    "dataset_path_escapes": (
        ("version: 1\nmodel: {id: m}\ndatasets:\n  - id: ds\n    path: ../outside.yaml\n"),
        [
            (
                5,
                11,
                "datasets[0].path",
                "path not allowed: '../outside.yaml' resolves to {parent}/outside.yaml, outside the workspace {ws}",
                "name a file inside the repository, relative to the config file",
            ),
        ],
    ),
    "dataset_path_absolute": (
        ("version: 1\nmodel: {id: m}\ndatasets:\n  - id: ds\n    path: /etc/passwd\n"),
        [
            (
                5,
                11,
                "datasets[0].path",
                "path not allowed: '/etc/passwd' resolves to /etc/passwd, outside the workspace {ws}",
                "name a file inside the repository, relative to the config file",
            ),
        ],
    ),
    "dataset_file_missing": (
        ("version: 1\nmodel: {id: m}\ndatasets:\n  - id: ds\n    path: data/nope.yaml\n"),
        [
            (
                5,
                11,
                "datasets[0].path",
                "file not found: 'data/nope.yaml' (looked for {ws}/data/nope.yaml)",
                "paths are relative to the directory of the config file",
            ),
        ],
    ),
    "holdout_missing_path": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\nholdout: {}\n"),
        [
            (
                4,
                1,
                "holdout.path",
                "required key `path` is missing",
                "add `path`: Committed holdout file (same formats as datasets), relative to the config file. Used for the leakage check and the champion/challenger comparison",
            ),
        ],
    ),
    "bad_indentation": (
        ("version: 1\nmodel:\n  id: m\n datasets: [{id: ds}]\n"),
        [
            (
                4,
                2,
                "",
                "not valid YAML: did not find expected key (while parsing a block mapping)",
                "check the indentation and quoting around this line",
            ),
        ],
    ),
    "unclosed_flow": (
        ("version: 1\nmodel: {id: m\ndatasets: [{id: ds}]\n"),
        [
            (
                2,
                8,
                "",
                "not valid YAML: the `{{` opened here is not closed (the parser gave up at line 3)",
                "close it with `}`, or separate its items with `,`",
            ),
        ],
    ),
    # The parser gives up lines below the bracket; the report points at the bracket.
    "unclosed_sequence_far_below": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "audit:\n"
            "  governance_tags: [automated, api\n"
            "validation:\n"
            "  max_imbalance_ratio: 7\n"
            "training:\n"
            "  validation_split: 0.2\n"
        ),
        [
            (
                5,
                20,
                "",
                "not valid YAML: the `[` opened here is not closed (the parser gave up at line 6)",
                "close it with `]`, or separate its items with `,`",
            ),
        ],
    ),
    "tab_indent": (
        ("version: 1\nmodel:\n\tid: m\n"),
        [
            (
                3,
                1,
                "",
                "not valid YAML: a tab character; YAML indents with spaces only",
                "replace the tab with spaces",
            ),
        ],
    ),
    "python_tag": (
        (
            "version: 1\n"
            'model: {id: !!python/object/apply:os.system ["echo hi"]}\n'
            "datasets: [{id: ds}]\n"
        ),
        [
            (
                2,
                13,
                "model.id",
                "unsupported YAML tag !!python/object/apply:os.system",
                "only plain YAML values are allowed (no tags)",
            ),
        ],
    ),
    "custom_tag": (
        ("version: 1\nmodel: {id: !env MODEL}\ndatasets: [{id: ds}]\n"),
        [
            (
                2,
                13,
                "model.id",
                "unsupported YAML tag !env",
                "only plain YAML values are allowed (no tags)",
            ),
        ],
    ),
    "date_where_text_is_meant": (
        "version: 1\nmodel: {id: 2024-05-01}\ndatasets: [{id: ds}]\n",
        [(2, 13, "model.id", "expected text, got 2024-05-01", "put the value in quotes")],
    ),
    "impossible_date": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: 2024-02-30}]\n"),
        [
            (
                3,
                17,
                "datasets[0].id",
                "cannot read this value: day is out of range for month",
                "put the value in quotes to keep it as text",
            ),
        ],
    ),
    "control_character": (
        "version: 1\nmodel: {id: \u00e9\x07}\n",
        [
            (
                2,
                14,
                "",
                "not valid YAML: the control character #x0007 is not allowed",
                "remove it; only printable characters, tabs and line breaks may appear",
            ),
        ],
    ),
    "two_documents": (
        ("version: 1\nmodel: {id: m}\n---\ndatasets: [{id: ds}]\n"),
        [
            (
                3,
                1,
                "",
                "the file holds more than one YAML document",
                "remove the `---` separator; the whole config is one document",
            ),
        ],
    ),
    "top_level_list": (
        "- version: 1\n",
        [
            (
                1,
                1,
                "",
                "expected a mapping of keys at the top level, got list",
                "start with `version: 1`",
            ),
        ],
    ),
    "empty_file": (
        "",
        [
            (
                1,
                1,
                "",
                "the file is empty",
                "start with `version: 1`, then `model:` and `datasets:`; see docs/configuration.md",
            ),
        ],
    ),
    "comment_only": (
        "# nothing here\n",
        [
            (
                1,
                1,
                "",
                "the file is empty",
                "start with `version: 1`, then `model:` and `datasets:`; see docs/configuration.md",
            ),
        ],
    ),
    "non_string_key": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\n? [a, b]\n: x\n"),
        [
            (4, 3, "", "a key must be a plain name, not a list or mapping", None),
        ],
    ),
    "per_intent_missing_min_f1": (
        (
            "version: 1\n"
            "model: {id: m}\n"
            "datasets: [{id: ds}]\n"
            "gate:\n"
            "  per_intent:\n"
            "    min_support: 3\n"
        ),
        [
            (
                5,
                3,
                "gate.per_intent.min_f1",
                "required key `min_f1` is missing",
                "add `min_f1`: Lowest F1 allowed for any single intent",
            ),
        ],
    ),
    "number_written_true": (
        ("version: 1\nmodel: {id: m}\ndatasets: [{id: ds}]\ngate:\n  min_f1: true\n"),
        [(5, 11, "gate.min_f1", "expected a number, got true", None)],
    ),
    # A value YAML itself cannot construct is reported, and the rest is still checked.
    "binary_not_ascii": (
        ('version: 1\nmodel: {id: !!binary "\u00e9"}\ndatasets: [{id: ds}]\n'),
        [
            (
                2,
                13,
                "model.id",
                "cannot read this value: failed to convert base64 data into ascii: 'ascii' "
                "codec can't encode character '\\xe9' in position 0: ordinal not in range(128)",
                None,
            ),
        ],
    ),
    "backend_unknown": (
        ("version: 1\nbackend: cognigy-v3\nmodel: {id: m}\ndatasets: [{id: ds}]\n"),
        [
            (
                2,
                10,
                "backend",
                "expected 'cognigy-v1' or 'cognigy-v2', got the text 'cognigy-v3'",
                None,
            ),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_config_is_reported_exactly(
    name: str, write_config: ConfigWriter, workspace: Path
) -> None:
    text, expected = CASES[name]
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    root = workspace.resolve()
    got = [(i.line, i.column, i.field, i.message, i.hint) for i in caught.value.issues]
    want = [
        (line, column, field, message.format(ws=root, parent=root.parent), hint)
        for line, column, field, message, hint in expected
    ]
    assert got == want
    assert all(issue.file == str(path) for issue in caught.value.issues)
    assert caught.value.exit_code == 2
    assert caught.value.decision == "invalid"


def test_enough_broken_configs_are_covered() -> None:
    assert len(CASES) >= 20

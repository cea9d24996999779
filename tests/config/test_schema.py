"""The committed JSON Schema and the generated reference match the model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ci_trainer import schemas
from ci_trainer.schemas import (
    CONFIG_SCHEMA_PATH,
    config_schema,
    print_schema,
    render_config_schema,
)
from ci_trainer.schemas import (
    REGENERATE_COMMAND as SCHEMA_COMMAND,
)
from ci_trainer.schemas.reference import (
    HEADING,
    REGENERATE_COMMAND,
    extract_section,
    render_reference,
    update_document,
)
from ci_trainer.schemas.reference import (
    main as reference_main,
)

from .test_broken_configs import CASES
from .test_loader import FULL


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return json.loads(CONFIG_SCHEMA_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_committed_schema_matches_the_model() -> None:
    committed_text = CONFIG_SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed_text == render_config_schema(), (
        f"the committed config schema is out of date; regenerate it: {SCHEMA_COMMAND}"
    )


def test_schema_is_valid_draft_2020_12(committed: dict[str, Any]) -> None:
    assert committed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert committed["title"] == "ci-trainer training config"
    jsonschema.Draft202012Validator.check_schema(committed)


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_the_sample_configs(committed: dict[str, Any], repo_root: Path) -> None:
    check = validator(committed)
    samples = [yaml.safe_load(FULL)]
    for sample_file in (
        repo_root / "training-config.yaml",
        repo_root / "examples" / "cognigy-v2" / "training-config.yaml",
    ):
        if sample_file.exists():  # the project's own samples, once committed
            samples.append(yaml.safe_load(sample_file.read_text(encoding="utf-8")))
    for sample in samples:
        assert list(check.iter_errors(sample)) == []


# Broken configs the schema can judge by itself: no YAML-level problem, no file system
# check, no rule that needs the raw YAML (duplicate keys, quoted numbers, yes/no).
SCHEMA_JUDGES = [
    "version_missing", "version_two", "unknown_top_key", "unknown_nested_key",
    "missing_model", "missing_model_id", "empty_datasets", "dataset_id_number",
    "f1_above_one", "epochs_too_few", "batch_size_fraction", "learning_rate_zero",
    "text_as_bool", "section_is_list", "datasets_is_mapping", "env_name_invalid",
    "client_secret_in_file", "holdout_missing_path", "per_intent_missing_min_f1",
    "backend_unknown",
]  # fmt: skip


@pytest.mark.parametrize("name", SCHEMA_JUDGES)
def test_schema_rejects_what_the_loader_rejects(committed: dict[str, Any], name: str) -> None:
    data = yaml.safe_load(CASES[name][0])
    assert list(validator(committed).iter_errors(data)), f"the schema accepts {name}"


def test_print_schema_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_schema("config") == 0
    assert json.loads(capsys.readouterr().out) == config_schema()


def test_print_schema_audit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "audit.schema.json"
    fake.write_text('{"title": "audit"}\n', encoding="utf-8")
    monkeypatch.setattr(schemas, "AUDIT_SCHEMA_PATH", fake)
    assert print_schema("audit") == 0
    assert capsys.readouterr().out == '{"title": "audit"}\n'


def test_print_schema_audit_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.json"
    monkeypatch.setattr(schemas, "AUDIT_SCHEMA_PATH", missing)
    assert print_schema("audit") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: the audit record schema is not available ({missing}: No such file or "
        "directory); this installation is incomplete\n"
    )


def test_print_schema_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_schema("other") == 2
    assert "choose 'config' or 'audit'" in capsys.readouterr().err


def test_committed_reference_matches_the_schema(repo_root: Path, committed: dict[str, Any]) -> None:
    document = (repo_root / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert extract_section(document) == render_reference(committed), (
        f"docs/configuration.md's reference is out of date; regenerate it: {REGENERATE_COMMAND}"
    )


def test_reference_lists_every_key_and_the_editor_line(committed: dict[str, Any]) -> None:
    section = render_reference(committed)
    assert "# yaml-language-server: $schema=" in section
    for name, definition in committed["$defs"].items():
        for key in definition.get("properties", {}):
            assert f"| `{key}` |" in section, f"{name}.{key} missing from the reference"
    assert "### `training.hyperparameters`" in section
    assert "| `epochs` | integer | `50` | 10 to 500 |" in section
    assert "### `datasets[]`" in section


def test_update_document_replaces_only_the_section() -> None:
    before = f"# Title\n\nintro\n\n{HEADING}\n\nold\n\n## Later\n\nkept\n"
    after = update_document(before, f"{HEADING}\n\nnew\n")
    assert after == f"# Title\n\nintro\n\n{HEADING}\n\nnew\n\n## Later\n\nkept\n"
    assert update_document("# T\n", f"{HEADING}\n\nx\n") == f"# T\n\n{HEADING}\n\nx\n"


def test_regenerate_command_reproduces_the_committed_file(repo_root: Path) -> None:
    """`ci-trainer schema config` (here via `python -m ci_trainer`) prints the file."""
    done = subprocess.run(
        [sys.executable, "-m", "ci_trainer", "schema", "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo_root,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == CONFIG_SCHEMA_PATH.read_text(encoding="utf-8")


def test_reference_main_rewrites_the_section_in_place(tmp_path: Path) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text(f"# Configuration\n\n{HEADING}\n\nstale\n\n## Appendix\n\nkept\n", "utf-8")
    assert reference_main([str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert extract_section(text) == render_reference(config_schema())
    assert text.endswith("\n\n## Appendix\n\nkept\n")
    assert reference_main([]) == 2

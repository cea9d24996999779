"""Committed JSON Schemas (config, audit record) and the `schema` command.

`training-config.schema.json` is generated from the pydantic model; a test fails when the
committed file drifts. Regenerate it with
`ci-trainer schema config > ci_trainer/schemas/training-config.schema.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
CONFIG_SCHEMA_PATH = SCHEMA_DIR / "training-config.schema.json"
AUDIT_SCHEMA_PATH = SCHEMA_DIR / "audit-record.schema.json"

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONFIG_SCHEMA_ID = "urn:ci-trainer:schema:training-config:v1"
REGENERATE_COMMAND = "ci-trainer schema config > ci_trainer/schemas/training-config.schema.json"


def config_schema() -> dict[str, Any]:
    """The JSON Schema of `training-config.yaml`, generated from `TrainingConfig`."""
    from ci_trainer.config.model import TrainingConfig

    generated = TrainingConfig.model_json_schema()
    header: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": CONFIG_SCHEMA_ID,
        "title": "ci-trainer training config",
    }
    # Keep the header keys first so the committed file reads top-down.
    return header | {key: value for key, value in generated.items() if key not in header}


def render_config_schema() -> str:
    """The exact text of the committed schema file."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


def load_committed_schema(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        msg = f"{path} does not hold a JSON object"
        raise TypeError(msg)
    return data


def print_schema(which: str) -> int:
    """`ci-trainer schema config|audit`: print a schema to stdout; 2 when unavailable."""
    if which == "config":
        sys.stdout.write(render_config_schema())
        return 0
    if which == "audit":
        try:
            sys.stdout.write(AUDIT_SCHEMA_PATH.read_text(encoding="utf-8"))
        except OSError as exc:
            sys.stderr.write(
                f"error: the audit record schema is not available ({AUDIT_SCHEMA_PATH}: "
                f"{exc.strerror or exc}); this installation is incomplete\n"
            )
            return 2
        return 0
    sys.stderr.write(f"error: unknown schema {which!r}; choose 'config' or 'audit'\n")
    return 2

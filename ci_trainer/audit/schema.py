"""The committed JSON Schema of an audit record, and checking a record against it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match


@cache
def load_schema() -> dict[str, Any]:
    """The committed JSON Schema of one audit record (Draft 2020-12)."""
    text = (
        resources.files("ci_trainer.schemas")
        .joinpath("audit-record.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problem(record: Any) -> str | None:
    """The most relevant schema violation of `record` with its field path, or None."""
    error = best_match(_validator().iter_errors(record))
    if error is None:
        return None
    return f"schema violation at {error.json_path}: {error.message}"

"""Pydantic validation errors -> `ConfigIssue`s a user can act on.

Each error is placed at the YAML node it concerns (the key for unknown keys, the parent
key for a missing one, the value otherwise) and says what was expected in the words of
the config, not of pydantic.
"""

from __future__ import annotations

import datetime
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ci_trainer.config.yamltree import FieldPath, Mark, NodeMarks
from ci_trainer.errors import ConfigIssue

_MAX_SHOWN = 60


def field_path_text(path: FieldPath) -> str:
    """`("datasets", 1, "path")` -> `datasets[1].path`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = short(part)
            text += f".{name}" if text else name
    return text


def short(name: str) -> str:
    """A key as it may appear in a message: a pasted paragraph is cut."""
    return name if len(name) <= _MAX_SHOWN else name[: _MAX_SHOWN - 3] + "..."


def describe(value: Any) -> str:
    """A short, safe rendering of a YAML value for a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
        return f"the text {shown!r}"
    try:
        text = str(value)
    except ValueError:  # ints beyond Python's str() digit limit
        return "a very large number"
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def locate(
    marks: Mapping[FieldPath, NodeMarks], path: FieldPath, *, prefer_key: bool
) -> Mark | None:
    """The mark of `path`, or of its nearest ancestor present in the file."""
    for end in range(len(path), -1, -1):
        found = marks.get(path[:end])
        if found is not None:
            if prefer_key or end < len(path):
                return found.key or found.value
            return found.value
    return None


def issue_at(
    file: str,
    marks: Mapping[FieldPath, NodeMarks],
    path: FieldPath,
    message: str,
    hint: str | None = None,
    *,
    prefer_key: bool = False,
) -> ConfigIssue:
    """An issue about the field at `path`, placed at its line and column in the file."""
    mark = locate(marks, path, prefer_key=prefer_key)
    return ConfigIssue(
        file=file,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        field=field_path_text(path),
        message=message,
        hint=hint,
    )


def model_at(root: type[BaseModel], path: FieldPath) -> type[BaseModel] | None:
    """The section model that holds the keys found at `path`."""
    model: type[BaseModel] | None = root
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _section_type(info.annotation) if info is not None else None
    return model


def field_at(root: type[BaseModel], path: FieldPath) -> FieldInfo | None:
    names = [part for part in path if isinstance(part, str)]
    if not names:
        return None
    parent = model_at(root, path[: _last_name_index(path)])
    return parent.model_fields.get(names[-1]) if parent is not None else None


def _last_name_index(path: FieldPath) -> int:
    for index in range(len(path) - 1, -1, -1):
        if isinstance(path[index], str):
            return index
    return 0


def _section_type(annotation: Any) -> type[BaseModel] | None:
    """Unwrap `X | None` and `list[X]` to the BaseModel subclass X, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _section_type(arg)
            if found is not None:
                return found
    return None


def bounds_text(info: FieldInfo | None) -> str:
    """`from 10 to 500`, `at least 1`, `above 0 and at most 0.1` from a field's limits."""
    if info is None:
        return ""
    limits: dict[str, Any] = {}
    for item in info.metadata:
        for name in ("ge", "gt", "le", "lt"):
            value = getattr(item, name, None)
            if value is not None:
                limits[name] = value
    if "ge" in limits and "le" in limits:
        return f"from {limits['ge']} to {limits['le']}"
    words = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}
    parts = [f"{words[name]} {value}" for name, value in limits.items()]
    return " and ".join(parts)


def _kind(info: FieldInfo | None) -> str:
    annotation = info.annotation if info is not None else None
    args = typing.get_args(annotation) or (annotation,)
    if int in args and float not in args:
        return "a whole number"
    return "a number"


def issue_from_error(
    error: Mapping[str, Any],
    *,
    root: type[BaseModel],
    marks: Mapping[FieldPath, NodeMarks],
    file: str,
) -> ConfigIssue:
    """One pydantic error dict -> one located, reworded `ConfigIssue`."""
    kind = str(error.get("type", ""))
    path: FieldPath = tuple(error.get("loc", ())) or rule_path(kind, error.get("ctx") or {})
    value = error.get("input")
    info = field_at(root, path)
    node = marks.get(path)
    shown = describe(value)
    if node is not None and node.spelled is not None:
        shown = f"`{short(node.spelled)}` (YAML reads it as {shown})"
    message, hint = _wording(kind, error, value, shown, info, root, path)
    at_key = kind in ("extra_forbidden", "missing")
    located_path = path[:-1] if kind == "missing" else path
    mark = locate(marks, located_path, prefer_key=at_key)
    return ConfigIssue(
        file=file,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        field=field_path_text(path),
        message=message,
        hint=hint,
    )


def _wording(
    kind: str,
    error: Mapping[str, Any],
    value: Any,
    shown: str,
    info: FieldInfo | None,
    root: type[BaseModel],
    path: FieldPath,
) -> tuple[str, str | None]:
    name = short(str(path[-1])) if path else ""
    if kind == "missing":
        about = f": {info.description.rstrip('.')}" if info and info.description else ""
        return f"required key `{name}` is missing", f"add `{name}`{about}"
    if kind == "extra_forbidden":
        return f"unknown key `{name}`", _did_you_mean(name, model_at(root, path[:-1]))
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"expected {_kind(info)} {bounds_text(info)}, got {shown}", None
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {shown}", None
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"expected a number, got {shown}", None
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {shown}", None
    if kind == "string_type":
        # YAML read a number, date or yes/no where text was meant: quoting keeps it text.
        quoted = isinstance(value, (int, float, bool, datetime.date))
        return f"expected text, got {shown}", ("put the value in quotes" if quoted else None)
    if kind == "string_too_short":
        return "expected a non-empty text", None
    if kind == "too_short":
        least = (error.get("ctx") or {}).get("min_length", 1)
        return f"expected a list with at least {least} item{'s' if least != 1 else ''}", None
    if kind == "too_long":
        most = (error.get("ctx") or {}).get("max_length")
        return f"expected at most {most} item{'s' if most != 1 else ''}", None
    if kind == "string_pattern_mismatch" and not name.endswith("_env"):
        pattern = (error.get("ctx") or {}).get("pattern", "")
        return f"expected text matching `{pattern}`, got {shown}", None
    if kind == "string_pattern_mismatch":
        # Not echoed: a URL or secret pasted here instead of a variable name would
        # otherwise end up in the log.
        return (
            "expected the name of an environment variable, not its value",
            "letters, digits and underscores, not starting with a digit, e.g. "
            f"{_env_example(name)}; set the value itself in the environment",
        )
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {shown}", None
    if kind == "list_type":
        return f"expected a list, got {shown}", None
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"expected {expected}, got {shown}", None
    text = str(error.get("msg", "invalid value"))
    # A rule across fields (no location of its own) says all there is to say.
    if not path or isinstance(value, (dict, list)):
        return text, None
    return f"{text}, got {shown}", None


def rule_path(kind: str, ctx: Mapping[str, Any]) -> FieldPath:
    """Where a rule across fields (a model validator's error, which pydantic reports at
    the root) belongs in the file, so its issue gets the right line."""
    if kind == "backend_section_missing":  # whichever backend it is: at its `backend:` line
        return ("backend",)
    if kind == "cognigy_v2_dataset" and isinstance(ctx.get("index"), int):
        return ("cognigy_v2", "targets", ctx["index"], "dataset")
    if kind == "cognigy_v2_holdout_target":
        return ("cognigy_v2", "holdout_target")
    if kind == "cognigy_v2_base_url":
        return ("cognigy_v2", "base_url")
    return ()


def _env_example(field: str) -> str:
    return {"url_env": "WEBHOOK_URL", "secret_env": "WEBHOOK_SECRET"}.get(field, "MY_VARIABLE")


def _did_you_mean(name: str, model: type[BaseModel] | None) -> str | None:
    if model is None:
        return None
    allowed = list(model.model_fields)
    # Compare case-folded, with '-' as '_', so `Min-F1` finds `min_f1`.
    folded = {key.casefold(): key for key in allowed}
    close = difflib.get_close_matches(
        name.casefold().replace("-", "_"), list(folded), n=1, cutoff=0.6
    )
    if close:
        return f"did you mean `{folded[close[0]]}`?"
    return "allowed keys here: " + ", ".join(allowed)

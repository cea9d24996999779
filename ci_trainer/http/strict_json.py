"""Strict JSON for service answers (RFC 8259, not Python's dialect).

Python's `json.loads` takes the last of two equal keys and accepts NaN, Infinity and
numbers like 1e999 that overflow to infinity. A figure that the same document
contradicts ({"f1": 0.9, "f1": 0.2}) is no figure, and a NaN threshold compares false
with everything: both are refused here, with a message that says what was wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Bigger JSON answers are refused before parsing: parsing multiplies memory by ten or more.
MAX_JSON_BYTES = 16 * 1024 * 1024


class StrictJsonError(ValueError):
    """The body is JSON that Python would read, but not strict JSON (or too big to read)."""


def _objects(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            msg = f"the key {key[:60]!r} appears twice in one object"
            raise StrictJsonError(msg)
        result[key] = value
    return result


def _constant(name: str) -> float:
    msg = f"{name} is not a JSON number"
    raise StrictJsonError(msg)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        msg = f"the number {text[:40]} is too large for a float"
        raise StrictJsonError(msg)
    return value


def loads_strict(data: bytes) -> Any:
    """Parse `data` (UTF-8) as strict JSON; ValueError (StrictJsonError when only
    strictness or size is why) when it is not."""
    if len(data) > MAX_JSON_BYTES:
        msg = (
            f"the body of {len(data)} bytes is larger than the {MAX_JSON_BYTES} bytes read as JSON"
        )
        raise StrictJsonError(msg)
    return json.loads(
        data.decode("utf-8"),
        object_pairs_hook=_objects,
        parse_constant=_constant,
        parse_float=_float,
    )


def loads_lenient(text: str) -> Any:
    """For showing a body, never for its figures: NaN and friends stay text."""
    return json.loads(text, parse_constant=str)

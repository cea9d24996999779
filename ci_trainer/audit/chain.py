"""The hash chain: what is hashed, and how a record is written as one line.

Each line carries `prevHash` (the previous line's `hash`, or `GENESIS_HASH` for the first
line) and `hash`, the SHA-256 of the record's canonical JSON without `hash` (the schema's
description says the same so an auditor can recompute it without this code). Editing,
deleting or reordering a line breaks the chain. Removing records from the END leaves a
valid shorter chain: that is caught only by comparing the last hash with one kept
elsewhere (the run's `audit_hash` output, printed by verify).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64
_HEX = frozenset("0123456789abcdef")


def canonical_json(record: dict[str, Any]) -> bytes:
    """The bytes that are hashed: the record without `hash`, keys sorted at every level,
    no whitespace, non-ASCII characters as UTF-8 (not \\u escapes), no NaN/Infinity."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return line_text(body).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    """Lowercase hex SHA-256 of `canonical_json(record)`."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def is_hash(value: object) -> bool:
    """True for a lowercase hex SHA-256, the only shape `hash` and `prevHash` take."""
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def line_text(record: dict[str, Any]) -> str:
    # The stored line is canonical JSON too (hash included), so it is byte-stable.
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )

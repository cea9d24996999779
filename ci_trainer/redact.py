"""Keep secret values out of every string that leaves the process."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words


class Redactor:
    """A set of secret values, growing as tokens are issued.

    `on_new` is called once for each new value (the action wires it to `::add-mask::`),
    before the value is used, so the runner masks it before anything could print it.
    """

    def __init__(
        self,
        secrets: Iterable[str | None] = (),
        on_new: Callable[[str], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._on_new = on_new
        for value in secrets:
            self.add(value)

    def set_listener(self, on_new: Callable[[str], None]) -> None:
        with self._lock:
            self._on_new = on_new
            values = sorted(self._values)
        for value in values:
            on_new(value)

    def add(self, value: str | None) -> None:
        if not value or len(value) < _MIN_SECRET_LEN:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            listener = self._on_new
        if listener is not None:
            listener(value)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    @property
    def values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON-like tree (dicts, lists, scalars) with `change` applied to every
    string in it, dict keys included: how a Redactor scrubs a record or an event."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [map_strings(item, change) for item in value]
    return value

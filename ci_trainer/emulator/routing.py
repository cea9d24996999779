"""The emulators' URL maps, built one at a time.

Werkzeug compiles each rule's URL builder with `ast.parse`. CPython 3.11.7 keeps the
AST converter's recursion depth in interpreter-wide state, so two threads parsing at
once can fail with "SystemError: AST constructor recursion depth mismatch"
(python/cpython#106905, fixed in 3.11.8 and 3.12.1). Tests start several emulators in
parallel threads; one lock around building a map keeps that from ever happening.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from werkzeug.routing import Map, Rule

_BUILD_LOCK = threading.Lock()


def url_map(rules: Iterable[Rule]) -> Map:
    """A werkzeug Map of `rules`, compiled while no other thread compiles one."""
    with _BUILD_LOCK:
        return Map(list(rules))

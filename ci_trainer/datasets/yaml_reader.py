"""The `yaml` format: the one-line fast path, else the event reader, else the node reader.

The three give the same examples and messages (property tests hold them equal); each is
faster than the next on the files it can read.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

from ci_trainer.datasets.model import Example
from ci_trainer.datasets.yaml_events import AliasFound, YamlEvents
from ci_trainer.datasets.yaml_lines import read_plain_lines
from ci_trainer.datasets.yaml_nodes import parse_yaml_nodes


def parse_yaml(text: str, name: str) -> list[Example]:
    """The examples of a `yaml` dataset; raises `DatasetError` with every problem found."""
    with gc_paused():
        plain = read_plain_lines(text)
        if plain is not None:
            return plain
        try:
            return YamlEvents(text, name).read()
        except AliasFound:
            return parse_yaml_nodes(text, name)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: a large YAML file makes a million nodes, and collections
    triggered while they (and the examples) are created cost several times the parse.
    The node graph is acyclic except for recursive aliases, collected afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

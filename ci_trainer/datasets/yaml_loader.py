"""The YAML loader datasets are parsed with, and how a YAML error becomes a DatasetError.

The event and node readers both look `LOADER` up when they parse (not at import), so one
assignment here switches both, e.g. to the pure-Python loader in a test.
"""

from __future__ import annotations

import yaml

from ci_trainer.errors import DatasetError, DatasetIssue

_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TextLoader(_SAFE_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader without implicit tag resolution.

    Datasets read every scalar as its source text (`node.value`), so resolving `1.0` to
    a float tag is wasted work, and it is most of `compose`'s time on a large file.
    """

    def resolve(self, kind: type[yaml.Node], value: object, implicit: object) -> str:
        if kind is yaml.SequenceNode:
            return str(self.DEFAULT_SEQUENCE_TAG)
        if kind is yaml.MappingNode:
            return str(self.DEFAULT_MAPPING_TAG)
        return str(self.DEFAULT_SCALAR_TAG)


LOADER: type[yaml.SafeLoader] = _TextLoader


def yaml_error(exc: yaml.YAMLError, name: str) -> DatasetError:
    """The parser's complaint, at the line it points to."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    return DatasetError([DatasetIssue(name, line, f"not valid YAML: {problem}")])


# The keys an example written as a mapping may have.
EXAMPLE_FIELDS = frozenset({"text", "score"})

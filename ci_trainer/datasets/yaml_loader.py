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


def yaml_error(exc: yaml.YAMLError, name: str, text: str) -> DatasetError:
    """The parser's complaint, at the line it points to; a tab is named as one (the
    parser only says it found a character that cannot start any token)."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None and _is_tab(text, mark.line, mark.column):
        problem = "a tab character; YAML indents with spaces only (replace it with spaces)"
    return DatasetError([DatasetIssue(name, line, f"not valid YAML: {problem}")])


def _is_tab(text: str, line: int, column: int) -> bool:
    """Whether the 0-based `line`/`column` of `text` holds a tab."""
    lines = text.splitlines()
    return (
        0 <= line < len(lines) and 0 <= column < len(lines[line]) and (lines[line][column] == "\t")
    )


# The keys an example written as a mapping may have.
EXAMPLE_FIELDS = frozenset({"text", "score"})

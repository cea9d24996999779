"""YAML text -> plain data plus the line/column of every key and value.

`yaml.safe_load` loses node positions, so we compose the node graph with the safe loader
and build the data ourselves, keeping a mark for each field path. Before composing, one
pass over the event stream rejects documents that would be expensive to expand: too deep,
too many nodes once aliases are expanded ("billion laughs"), or aliases that refer to
themselves. Only the safe constructor's scalar types are produced (str, int, float, bool,
None, timestamps, binary); tagged Python objects are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 32
"""Nesting depth of mappings/sequences; the config itself needs 4."""
MAX_NODES = 20_000
"""Nodes after alias expansion; a realistic config has a few hundred."""

_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
_TOO_DEEP_HINT = "a training config needs only a few levels"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Mark:
    """A 1-based position in the file."""

    line: int
    column: int


@dataclass(frozen=True)
class NodeMarks:
    """Where a field's key (None for list items and the root) and value start, and the
    value as written when YAML reads it as something else (`yes` is true)."""

    key: Mark | None
    value: Mark
    spelled: str | None = None


@dataclass(frozen=True)
class Problem:
    """Something wrong in the YAML itself, before any field is checked."""

    message: str
    mark: Mark | None
    path: FieldPath = ()
    hint: str | None = None


@dataclass
class Tree:
    """The document as plain data; `marks` maps field paths to positions."""

    data: Any
    marks: dict[FieldPath, NodeMarks] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class YamlRejected(Exception):
    """The text cannot be turned into data at all (syntax, size of expansion, depth)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def mark_of(yaml_mark: Any) -> Mark | None:
    if yaml_mark is None:
        return None
    return Mark(line=int(yaml_mark.line) + 1, column=int(yaml_mark.column) + 1)


def read_tree(text: str) -> Tree:
    """Parse one YAML document into a `Tree`; raises `YamlRejected` when unusable."""
    try:
        check_expansion(yaml.parse(text, Loader=_LOADER))
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.reader.ReaderError as exc:
        raise YamlRejected(_reader_problem(exc, text)) from None
    except yaml.YAMLError as exc:
        raise YamlRejected(_syntax_problem(exc, text)) from None
    tree = Tree(data=None)
    if root is not None:
        tree.marks[()] = NodeMarks(key=None, value=_value_mark(root))
        tree.data = _Builder(tree).build(root, ())
    return tree


def _reader_problem(exc: yaml.reader.ReaderError, text: str) -> Problem:
    """A character YAML does not allow; the reader gives an offset, not a line."""
    position = int(exc.position) if isinstance(exc.position, int) else 0
    character = exc.character
    if isinstance(character, str):  # pure-Python reader: offsets count characters
        before = text[:position]
    else:  # libyaml: offsets count UTF-8 bytes
        before = text.encode("utf-8", "replace")[:position].decode("utf-8", "ignore")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    code = f"U+{ord(character):04X}" if isinstance(character, str) else f"#x{int(character):04x}"
    return Problem(
        f"not valid YAML: the control character {code} is not allowed",
        Mark(line, column),
        hint="remove it; only printable characters, tabs and line breaks may appear",
    )


# The parser's context when a `[` or `{` is still open at the point it gave up; it names
# the place it gave up, often lines below the bracket that was never closed.
_OPEN_FLOW = {
    "while parsing a flow sequence": ("[", "]"),
    "while parsing a flow mapping": ("{", "}"),
}


def _syntax_problem(exc: yaml.YAMLError, text: str) -> Problem:
    mark = mark_of(getattr(exc, "problem_mark", None))
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if mark is not None and _character_at(text, mark) == "\t":
        return Problem(
            "not valid YAML: a tab character; YAML indents with spaces only",
            mark,
            hint="replace the tab with spaces",
        )
    opened = mark_of(getattr(exc, "context_mark", None))
    if context in _OPEN_FLOW and opened is not None:
        start, end = _OPEN_FLOW[context]
        where = f" (the parser gave up at line {mark.line})" if mark else ""
        return Problem(
            f"not valid YAML: the `{start}` opened here is not closed{where}",
            opened,
            hint=f"close it with `{end}`, or separate its items with `,`",
        )
    if problem == "expected a single document in the stream" or context == (
        "expected a single document in the stream"
    ):
        return Problem(
            "the file holds more than one YAML document",
            mark,
            hint="remove the `---` separator; the whole config is one document",
        )
    if "maximum nesting depth" in str(problem):  # libyaml's own limit, met while scanning
        return Problem(_TOO_DEEP, mark, hint=_TOO_DEEP_HINT)
    text = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    return Problem(text, mark, hint="check the indentation and quoting around this line")


def _character_at(text: str, mark: Mark) -> str | None:
    lines = text.splitlines()
    if not 0 < mark.line <= len(lines):
        return None
    line = lines[mark.line - 1]
    return line[mark.column - 1] if 0 < mark.column <= len(line) else None


@dataclass
class _Frame:
    anchor: str | None
    size: int = 1


def check_expansion(events: Iterator[yaml.Event]) -> None:
    """Walk the event stream once, without building anything, and stop at the first
    sign of an expansion bomb. Each anchor's expanded size is remembered so an alias
    counts as everything it stands for."""
    stack: list[_Frame] = []
    sizes: dict[str, int] = {}
    total = 0
    documents = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise YamlRejected(
                    Problem(
                        "the file holds more than one YAML document",
                        mark_of(event.start_mark),
                        hint="remove the `---` separator; the whole config is one document",
                    )
                )
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append(_Frame(event.anchor))
            if len(stack) > MAX_DEPTH:
                raise YamlRejected(
                    Problem(_TOO_DEEP, mark_of(event.start_mark), hint=_TOO_DEEP_HINT)
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            frame = stack.pop()
            if frame.anchor is not None:
                sizes[frame.anchor] = frame.size
            total = _add(stack, total, frame.size, event)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            total = _add(stack, total, 1, event)
        elif isinstance(event, yaml.AliasEvent):
            if any(frame.anchor == event.anchor for frame in stack):
                raise YamlRejected(
                    Problem(
                        f"the alias *{event.anchor} refers to a node that contains it",
                        mark_of(event.start_mark),
                        hint="recursive aliases are not allowed",
                    )
                )
            total = _add(stack, total, sizes.get(str(event.anchor), 1), event)


def _add(stack: list[_Frame], total: int, size: int, event: yaml.Event) -> int:
    """Count `size` more values into the innermost open collection (or the document)."""
    if stack:
        stack[-1].size += size
    else:
        total += size
    # Open collections hold what they have seen so far; completed ones were folded into
    # their parent, so this sum is the whole expansion up to this event.
    if total + sum(frame.size for frame in stack) > MAX_NODES:
        raise YamlRejected(
            Problem(
                f"the document holds more than {MAX_NODES} values "
                "(an alias counts as everything it stands for)",
                mark_of(event.start_mark),
                hint="this looks like an alias bomb; write the values out or use fewer aliases",
            )
        )
    return total


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording marks on the way.

    Depth and expansion were bounded by `check_expansion`, so plain recursion is safe.
    """

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.constructor = SafeConstructor()

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, path)
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> Any:
        if node.tag != _MAP_TAG:
            return self._unsupported_tag(node, path)
        self._report_duplicates(node, path)
        try:
            # Merge keys (`<<: *defaults`) are part of safe_load; explicit keys win.
            self.constructor.flatten_mapping(node)
        except yaml.YAMLError as exc:
            self.tree.problems.append(
                Problem(
                    f"cannot merge: {getattr(exc, 'problem', exc)}", mark_of(node.start_mark), path
                )
            )
            return None
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.tree.problems.append(
                    Problem(
                        "a key must be a plain name, not a list or mapping",
                        mark_of(key_node.start_mark),
                        path,
                    )
                )
                continue
            key = str(key_node.value)
            child = (*path, key)
            self.tree.marks[child] = NodeMarks(
                key=mark_of(key_node.start_mark), value=_value_mark(value_node)
            )
            out[key] = self.build(value_node, child)
        return out

    def _report_duplicates(self, node: yaml.MappingNode, path: FieldPath) -> None:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = str(key_node.value)
            line = int(key_node.start_mark.line) + 1
            if key in first_line:
                self.tree.problems.append(
                    Problem(
                        f"duplicate key `{key}` (first set on line {first_line[key]})",
                        mark_of(key_node.start_mark),
                        (*path, key),
                        hint="keep one of them; YAML would silently use the last",
                    )
                )
            else:
                first_line[key] = line

    def _sequence(self, node: yaml.SequenceNode, path: FieldPath) -> Any:
        if node.tag != _SEQ_TAG:
            return self._unsupported_tag(node, path)
        items: list[Any] = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            self.tree.marks[child] = NodeMarks(key=None, value=_value_mark(item))
            items.append(self.build(item, child))
        return items

    def _scalar(self, node: yaml.Node, path: FieldPath) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = str(getattr(exc, "problem", None) or exc)
            if "could not determine a constructor" in problem:
                return self._unsupported_tag(node, path)
            self.tree.problems.append(
                Problem(f"cannot read this value: {problem}", mark_of(node.start_mark), path)
            )
            return None
        except (ValueError, TypeError, OverflowError) as exc:
            # e.g. `2024-02-30` matches the timestamp pattern but is no date, or an int
            # with more digits than Python converts.
            self.tree.problems.append(
                Problem(
                    f"cannot read this value: {exc}",
                    mark_of(node.start_mark),
                    path,
                    hint="put the value in quotes to keep it as text",
                )
            )
            return None
        self._keep_spelling(node, path, value)
        return value

    def _keep_spelling(self, node: yaml.Node, path: FieldPath, value: Any) -> None:
        """Remember `yes`, `off`, `True`...: a message that said "got true" about a
        value written `yes` would point at something the user never wrote."""
        marks = self.tree.marks.get(path)
        written = str(node.value)
        if marks is not None and isinstance(value, bool) and written not in ("true", "false"):
            self.tree.marks[path] = replace(marks, spelled=written)

    def _unsupported_tag(self, node: yaml.Node, path: FieldPath) -> None:
        self.tree.problems.append(
            Problem(
                f"unsupported YAML tag {str(node.tag).replace('tag:yaml.org,2002:', '!!')}",
                mark_of(node.start_mark),
                path,
                hint="only plain YAML values are allowed (no tags)",
            )
        )


def _value_mark(node: yaml.Node) -> Mark:
    mark = mark_of(node.start_mark)
    return mark if mark is not None else Mark(1, 1)

"""Dataset files: read the committed intent data in the formats we support.

Formats, chosen by content (not by name alone, since teams rename files):
- `yaml`: a mapping intent -> list of examples; an example is a string, or
  `{text: ..., score: 0.0..1.0}` where `score` is the annotation confidence.
- `cognigy-csv`: Cognigy's intent export, no header; columns intent name, property type,
  value; rows whose type is `exampleSentence` are examples, other rows are ignored.
- `text-category-csv`: a header `text,category` (common public intent corpora).
- `cognigy-json`: Cognigy's intent JSON export, a top-level array of intents, each with
  `name` and `exampleSentences` (plain strings); disabled intents (`isDisabled: true`)
  are left out, since the service does not train them.

Every problem is reported with file and line; nothing here raises anything but
`DatasetError`.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ci_trainer.errors import DatasetError, DatasetIssue

MAX_DATASET_BYTES = 64 * 1024 * 1024
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


_YAML_LOADER: type[yaml.SafeLoader] = _TextLoader


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    score: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class Dataset:
    path: str
    format: str
    sha256: str
    examples: tuple[Example, ...]
    _distribution: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def intent_distribution(self) -> dict[str, int]:
        if not self._distribution:
            self._distribution.update(Counter(example.intent for example in self.examples))
        return self._distribution

    @property
    def intents(self) -> list[str]:
        return sorted(self.intent_distribution)

    @property
    def average_annotation_score(self) -> float | None:
        scores = [e.score for e in self.examples if e.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def labels(self) -> list[str]:
        return [e.intent for e in self.examples]


def normalise_text(text: str) -> str:
    """The key under which two utterances count as the same (conflicts, leakage)."""
    return " ".join(text.casefold().split()).strip(" .!?,;:")


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset file; the format is detected from its content."""
    file = Path(path)
    name = str(path)
    try:
        size = file.stat().st_size
        if size > MAX_DATASET_BYTES:
            raise DatasetError(
                [
                    DatasetIssue(
                        name, None, f"file is {size} bytes, over the {MAX_DATASET_BYTES} byte limit"
                    )
                ]
            )
        raw = file.read_bytes()
    except DatasetError:
        raise
    except OSError as exc:
        raise DatasetError(
            [
                DatasetIssue(
                    name,
                    None,
                    f"cannot read the file: {exc.strerror or exc}",
                    "check the path in the config; it is relative to the config file",
                )
            ]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(
            [DatasetIssue(name, line, "the file is not UTF-8", "save it as UTF-8")]
        ) from None
    return parse_dataset(text, name, sha256=hashlib.sha256(raw).hexdigest())


def parse_dataset(text: str, name: str, *, sha256: str | None = None) -> Dataset:
    digest = sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    fmt = detect_format(text, name)
    if fmt == "yaml":
        examples = _parse_yaml(text, name)
    elif fmt == "text-category-csv":
        examples = _parse_text_category_csv(text, name)
    elif fmt == "cognigy-json":
        examples = _parse_cognigy_json(text, name)
    else:
        examples = _parse_cognigy_csv(text, name)
    if not examples:
        raise DatasetError(
            [
                DatasetIssue(
                    name,
                    None,
                    "the file holds no examples",
                    "add at least one intent with example sentences",
                )
            ]
        )
    return Dataset(path=name, format=fmt, sha256=digest, examples=tuple(examples))


def detect_format(text: str, name: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if name.lower().endswith((".yaml", ".yml")):
        return "yaml"
    if name.lower().endswith(".json") or first.lstrip().startswith("["):
        return "cognigy-json"
    if first.replace(" ", "").lower() in ("text,category", "text,intent"):
        return "text-category-csv"
    if name.lower().endswith(".csv"):
        return "cognigy-csv"
    # Unknown extension: a CSV row has commas before any colon; YAML keys end with a colon.
    return "cognigy-csv" if "," in first.split(":", 1)[0] else "yaml"


def _parse_yaml(text: str, name: str) -> list[Example]:
    with _gc_paused():
        plain = _read_plain_lines(text)
        if plain is not None:
            return plain
        try:
            return _YamlEvents(text, name).read()
        except _AliasFound:
            return _parse_yaml_nodes(text, name)


# The fast path: a file written in the common shapes, one line each, is read with one
# regular expression per line instead of the YAML parser (whose event objects are most of
# the time on a large file). Every character class below is a subset on which the YAML
# reading is unambiguous: no tabs, no line breaks other than "\n" (YAML also breaks
# lines at \r, \x85, \u2028, \u2029), nothing the YAML reader refuses as non-printable,
# no anchors, tags, comments after content, or multi-line scalars. Anything else, and any
# file that would give an error, is read by the YAML parser, so messages and lines come
# from one place.
_HIGH = r"\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"
_IN_SINGLE = r"\x20-\x26\x28-\x7e" + _HIGH  # printable but "'" (written '')
_IN_DOUBLE = r"\x20\x21\x23-\x5b\x5d-\x7e" + _HIGH  # printable but '"' and backslash
_SINGLE = rf"'([{_IN_SINGLE}]*(?:''[{_IN_SINGLE}]*)*)'"
_DOUBLE = rf'"([{_IN_DOUBLE}]*)"'
_PLAIN_LINE = re.compile(
    # an intent: a plain key at column 0 (every scalar is read as text, so `1.5:` is too);
    # YAML refuses an implicit key over 1,024 characters
    r"([A-Za-z0-9_][A-Za-z0-9_.-]{0,999}):[ ]*"
    # an example: `- ` at the intent's indentation, then ...
    r"|([ ]*)-[ ]+(?:"
    # ... plain text: no character that could start or end anything else in YAML (all of
    # YAML's indicators are ASCII, so printable non-ASCII text is plain)
    rf"([A-Za-z0-9{_HIGH}][A-Za-z0-9 _.,!?'()/{_HIGH}-]*)"
    # ... or a quoted string
    rf"|{_SINGLE}[ ]*|{_DOUBLE}[ ]*"
    # ... or {text: 'quoted'} with an optional score: a plain decimal number
    rf"|\{{[ ]*text:[ ]+(?:{_SINGLE}|{_DOUBLE})[ ]*"
    r"(?:,[ ]*score:[ ]+([0-9]+(?:\.[0-9]+)?)[ ]*)?\}[ ]*"
    r")"
    # a blank or comment line
    rf"|[ ]*(?:#[\t\x20-\x7e{_HIGH}]*)?"
)


def _read_plain_lines(text: str) -> list[Example] | None:
    """The examples of a file in the common one-line shapes, or None when the file has
    any other line or any problem (the YAML reader then reads it and reports)."""
    examples: list[Example] = []
    append = examples.append
    match = _PLAIN_LINE.fullmatch
    intent: str | None = None
    indent: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        found = match(line)
        if found is None:
            return None
        key, dash, plain, single, double, flow_single, flow_double, score = found.groups()
        if key is not None:
            if intent is not None and indent is None:
                return None  # an intent without examples: the YAML reader says so
            intent, indent = key, None
            continue
        if dash is None:
            continue  # blank or comment
        if intent is None or (indent is not None and dash != indent):
            return None
        indent = dash
        value = _one_line_text(plain, single, double, flow_single, flow_double).strip()
        if not value:
            return None
        number_score = None
        if score is not None:
            number_score = float(score)
            if number_score > 1.0:
                return None
        append(Example(text=value, intent=intent, score=number_score, line=number))
    if intent is None or indent is None:
        return None
    return examples


def _one_line_text(
    plain: str | None,
    single: str | None,
    double: str | None,
    flow_single: str | None,
    flow_double: str | None,
) -> str:
    if plain is not None:
        return plain
    if single is not None:
        return single.replace("''", "'")
    if flow_single is not None:
        return flow_single.replace("''", "'")
    return double if double is not None else flow_double or ""


def _yaml_error(exc: yaml.YAMLError, name: str) -> DatasetError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    return DatasetError([DatasetIssue(name, line, f"not valid YAML: {problem}")])


_EXAMPLE_FIELDS = frozenset({"text", "score"})


class _AliasFound(Exception):
    """The file uses anchors or aliases; it is read through the node graph, which shares
    aliased nodes."""


class _YamlEvents:
    """Reads a YAML dataset from the parser's event stream, without building nodes.

    Same results and messages as `_parse_yaml_nodes` (a property test holds them equal)
    with less CPU and a fifth of the memory on a large file. A file with anchors or
    aliases is handed to the node reader, which sees an alias as the anchored node itself
    and refuses one that would repeat examples.
    """

    def __init__(self, text: str, name: str) -> None:
        self.events = iter(yaml.parse(text, Loader=_YAML_LOADER))
        self.name = name
        self.issues: list[DatasetIssue] = []
        self.examples: list[Example] = []

    def read(self) -> list[Example]:
        try:
            self._read_stream()
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, self.name) from None
        if self.issues:
            raise DatasetError(self.issues[:50])
        return self.examples

    def _next(self) -> yaml.Event:
        event = next(self.events)
        # An alias, or an anchor (the composer also rejects a repeated one): leave the
        # file to the node reader.
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise _AliasFound
        return event

    def _skip(self, event: yaml.Event) -> None:
        """Consume the rest of the collection `event` opened (nothing for a scalar)."""
        depth = 1 if isinstance(event, yaml.CollectionStartEvent) else 0
        while depth:
            inner = self._next()
            if isinstance(inner, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(inner, yaml.CollectionEndEvent):
                depth -= 1

    def _issue(self, line: int | None, message: str, hint: str | None = None) -> None:
        self.issues.append(DatasetIssue(self.name, line, message, hint))

    def _read_stream(self) -> None:
        self._next()  # StreamStart
        if isinstance(self._next(), yaml.StreamEndEvent):
            return  # no document at all: no examples
        root = self._next()
        if type(root) is yaml.MappingStartEvent:
            self._read_intents()
        else:
            self._skip(root)
            # Reported after the whole document parsed, as the node reader does.
            self._next()  # DocumentEnd
            after = self._next()
            self._single_document(after)
            raise DatasetError(
                [
                    DatasetIssue(
                        self.name,
                        _line(root),
                        "expected a mapping of intent name -> list of examples",
                    )
                ]
            )
        self._next()  # DocumentEnd
        self._single_document(self._next())

    def _single_document(self, event: yaml.Event) -> None:
        if not isinstance(event, yaml.StreamEndEvent):
            raise DatasetError(
                [
                    DatasetIssue(
                        self.name,
                        _line(event),
                        "not valid YAML: but found another document",
                    )
                ]
            )

    def _read_intents(self) -> None:
        while True:
            key = self._next()
            if type(key) is yaml.MappingEndEvent:
                return
            line = _line(key)
            if isinstance(key, yaml.ScalarEvent):
                intent = str(key.value).strip()
            else:
                intent = ""
                self._skip(key)
            value = self._next()
            if not intent:
                self._issue(line, "an intent name must be a non-empty string")
                self._skip(value)
            elif type(value) is not yaml.SequenceStartEvent:
                self._issue(line, f"intent '{intent}': expected a list of examples")
                self._skip(value)
            else:
                self._read_examples(intent)

    def _read_examples(self, intent: str) -> None:
        while True:
            event = self._next()
            if isinstance(event, yaml.SequenceEndEvent):
                return
            line = _line(event)
            if isinstance(event, yaml.ScalarEvent):
                text, score = str(event.value), None
            elif isinstance(event, yaml.MappingStartEvent):
                fields = self._read_fields()
                unknown = fields.keys() - _EXAMPLE_FIELDS
                if unknown:
                    self._issue(
                        line,
                        f"intent '{intent}': unknown example field(s) {', '.join(sorted(unknown))}",
                        "an example is a string or {text, score}",
                    )
                    continue
                text = fields.get("text") or ""
                score = self._score(fields, intent, line)
            else:
                self._issue(
                    line, f"intent '{intent}': an example must be a string or {{text, score}}"
                )
                self._skip(event)
                continue
            text = text.strip()
            if not text:
                self._issue(line, f"intent '{intent}': empty example text")
                continue
            self.examples.append(Example(text=text, intent=intent, score=score, line=line))

    def _read_fields(self) -> dict[str, str | None]:
        """An example mapping: key -> scalar text, or None for a non-scalar value."""
        fields: dict[str, str | None] = {}
        while True:
            key = self._next()
            if type(key) is yaml.MappingEndEvent:
                return fields
            if isinstance(key, yaml.ScalarEvent):
                name = str(key.value).strip()
            else:
                name = ""
                self._skip(key)
            value = self._next()
            if isinstance(value, yaml.ScalarEvent):
                fields[name] = str(value.value)
            else:
                fields[name] = None
                self._skip(value)

    def _score(self, fields: dict[str, str | None], intent: str, line: int | None) -> float | None:
        if "score" not in fields:
            return None
        raw = fields["score"]
        try:
            value = float(raw) if raw is not None else None
        except ValueError:
            value = None
        if value is None or not 0.0 <= value <= 1.0:
            self._issue(line, f"intent '{intent}': score must be a number from 0 to 1")
            return None
        return value


def _line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark is not None else None


def _parse_yaml_nodes(text: str, name: str) -> list[Example]:
    try:
        root = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, name) from None
    except RecursionError:  # the pure-Python composer (no libyaml) recurses per level
        raise DatasetError(
            [DatasetIssue(name, None, "not valid YAML: nested too deeply")]
        ) from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise DatasetError(
            [
                DatasetIssue(
                    name,
                    root.start_mark.line + 1,
                    "expected a mapping of intent name -> list of examples",
                )
            ]
        )
    issues: list[DatasetIssue] = []
    examples: list[Example] = []
    # An alias is the anchored node itself; each node may give examples once, so a small
    # file cannot repeat one long list into millions of examples.
    seen: set[int] = set()
    for key_node, value_node in root.value:
        intent = _scalar_text(key_node)
        line = key_node.start_mark.line + 1
        if not intent:
            issues.append(DatasetIssue(name, line, "an intent name must be a non-empty string"))
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            issues.append(
                DatasetIssue(name, line, f"intent '{intent}': expected a list of examples")
            )
            continue
        if _repeated(value_node, seen):
            issues.append(_alias_issue(name, line, intent))
            continue
        examples.extend(_yaml_examples(intent, value_node.value, name, issues, seen))
    if issues:
        raise DatasetError(issues[:50])
    return examples


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
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


def _repeated(node: yaml.Node, seen: set[int]) -> bool:
    if id(node) in seen:
        return True
    seen.add(id(node))
    return False


def _alias_issue(name: str, line: int, intent: str) -> DatasetIssue:
    return DatasetIssue(
        name,
        line,
        f"intent '{intent}': an alias repeats examples already given",
        "write each example out once: a YAML alias (*name) only repeats data or labels it twice",
    )


def _yaml_examples(
    intent: str,
    nodes: Iterable[yaml.Node],
    name: str,
    issues: list[DatasetIssue],
    seen: set[int],
) -> list[Example]:
    out: list[Example] = []
    for node in nodes:
        line = node.start_mark.line + 1
        if _repeated(node, seen):
            issues.append(_alias_issue(name, line, intent))
            continue
        if isinstance(node, yaml.ScalarNode):
            text, score = str(node.value), None
        elif isinstance(node, yaml.MappingNode):
            fields = {_scalar_text(k): v for k, v in node.value}
            unknown = sorted(fields.keys() - _EXAMPLE_FIELDS)
            if unknown:
                issues.append(
                    DatasetIssue(
                        name,
                        line,
                        f"intent '{intent}': unknown example field(s) {', '.join(unknown)}",
                        "an example is a string or {text, score}",
                    )
                )
                continue
            text_node = fields.get("text")
            text = str(text_node.value) if isinstance(text_node, yaml.ScalarNode) else ""
            score = _score(fields.get("score"), intent, name, line, issues)
        else:
            issues.append(
                DatasetIssue(
                    name, line, f"intent '{intent}': an example must be a string or {{text, score}}"
                )
            )
            continue
        if not text.strip():
            issues.append(DatasetIssue(name, line, f"intent '{intent}': empty example text"))
            continue
        out.append(Example(text=text.strip(), intent=intent, score=score, line=line))
    return out


def _score(
    node: yaml.Node | None, intent: str, name: str, line: int, issues: list[DatasetIssue]
) -> float | None:
    if node is None:
        return None
    try:
        value = float(node.value) if isinstance(node, yaml.ScalarNode) else None
    except ValueError:
        value = None
    if value is None or not 0.0 <= value <= 1.0:
        issues.append(
            DatasetIssue(name, line, f"intent '{intent}': score must be a number from 0 to 1")
        )
        return None
    return value


def _scalar_text(node: yaml.Node) -> str:
    return str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""


def _parse_cognigy_csv(text: str, name: str) -> list[Example]:
    issues: list[DatasetIssue] = []
    examples: list[Example] = []
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            line = reader.line_num
            if not "".join(row).strip():
                continue
            if len(row) < 3:
                issues.append(
                    DatasetIssue(
                        name,
                        line,
                        f"expected 3 columns (intent, property type, value), found {len(row)}",
                        "Cognigy's intent CSV export has no header and three columns",
                    )
                )
                continue
            intent, kind, value = row[0].strip(), row[1].strip(), ",".join(row[2:]).strip()
            if kind != "exampleSentence":
                continue
            if not intent or not value:
                issues.append(DatasetIssue(name, line, "empty intent name or example sentence"))
                continue
            examples.append(Example(text=value, intent=intent, line=line))
    except csv.Error as exc:
        issues.append(DatasetIssue(name, reader.line_num, f"not valid CSV: {exc}"))
    if issues:
        raise DatasetError(issues[:50])
    return examples


def _parse_text_category_csv(text: str, name: str) -> list[Example]:
    issues: list[DatasetIssue] = []
    examples: list[Example] = []
    reader = csv.reader(io.StringIO(text))
    try:
        next(reader, None)
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                issues.append(
                    DatasetIssue(name, line, "expected two non-empty columns: text,category")
                )
                continue
            examples.append(Example(text=row[0].strip(), intent=row[1].strip(), line=line))
    except csv.Error as exc:
        issues.append(DatasetIssue(name, reader.line_num, f"not valid CSV: {exc}"))
    if issues:
        raise DatasetError(issues[:50])
    return examples


def _parse_cognigy_json(text: str, name: str) -> list[Example]:
    issues: list[DatasetIssue] = []
    examples: list[Example] = []
    for line, intent in _json_array_items(text, name):
        if not isinstance(intent, dict):
            issues.append(
                DatasetIssue(name, line, "expected an intent object {name, exampleSentences}")
            )
            continue
        label = intent.get("name")
        sentences = intent.get("exampleSentences", [])
        if not isinstance(label, str) or not label.strip():
            issues.append(DatasetIssue(name, line, "an intent needs a non-empty 'name'"))
            continue
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            issues.append(
                DatasetIssue(
                    name, line, f"intent '{label}': 'exampleSentences' must be a list of strings"
                )
            )
            continue
        if intent.get("isDisabled") is True:
            continue
        examples.extend(
            Example(text=s.strip(), intent=label.strip(), line=line) for s in sentences if s.strip()
        )
    if issues:
        raise DatasetError(issues[:50])
    return examples


def _json_array_items(text: str, name: str) -> Iterator[tuple[int, object]]:
    """Each element of a top-level JSON array with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        raise DatasetError(
            [
                DatasetIssue(
                    name,
                    text.count("\n", 0, pos) + 1,
                    "expected a JSON array of intents",
                    "use Cognigy's intent JSON export (Export Intents, format JSON)",
                )
            ]
        )
    pos = _skip_space(text, pos + 1)
    while not text.startswith("]", pos):
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                [DatasetIssue(name, exc.lineno, f"not valid JSON: {exc.msg}")]
            ) from None
        yield text.count("\n", 0, pos) + 1, item
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
        elif not text.startswith("]", pos):
            line = text.count("\n", 0, pos) + 1
            raise DatasetError([DatasetIssue(name, line, "not valid JSON: expected ',' or ']'")])
    if text[pos + 1 :].strip():
        line = text.count("\n", 0, pos) + 1
        raise DatasetError([DatasetIssue(name, line, "not valid JSON: text after the array")])


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos

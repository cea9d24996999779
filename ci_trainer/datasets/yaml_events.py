"""Reading a YAML dataset from the parser's event stream, without building nodes."""

from __future__ import annotations

import yaml

from ci_trainer.datasets import yaml_loader
from ci_trainer.datasets.model import Example
from ci_trainer.errors import DatasetError, DatasetIssue


class AliasFound(Exception):
    """The file uses anchors or aliases; it is read through the node graph, which shares
    aliased nodes."""


class YamlEvents:
    """Reads a YAML dataset from the parser's event stream, without building nodes.

    Same results and messages as `parse_yaml_nodes` (a property test holds them equal)
    with less CPU and a fifth of the memory on a large file. A file with anchors or
    aliases is handed to the node reader, which sees an alias as the anchored node itself
    and refuses one that would repeat examples.
    """

    def __init__(self, text: str, name: str) -> None:
        self.events = iter(yaml.parse(text, Loader=yaml_loader.LOADER))
        self.text = text
        self.name = name
        self.issues: list[DatasetIssue] = []
        self.examples: list[Example] = []

    def read(self) -> list[Example]:
        try:
            self._read_stream()
        except yaml.YAMLError as exc:
            raise yaml_loader.yaml_error(exc, self.name, self.text) from None
        if self.issues:
            raise DatasetError(self.issues[:50])
        return self.examples

    def _next(self) -> yaml.Event:
        event = next(self.events)
        # An alias, or an anchor (the composer also rejects a repeated one): leave the
        # file to the node reader.
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise AliasFound
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
                unknown = fields.keys() - yaml_loader.EXAMPLE_FIELDS
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

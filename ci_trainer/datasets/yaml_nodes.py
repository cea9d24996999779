"""Reading a YAML dataset through the node graph: the reader for files with aliases.

An alias is the anchored node itself, so a node that would give its examples twice is
refused (a small file cannot repeat one long list into millions of examples).
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from ci_trainer.datasets import yaml_loader
from ci_trainer.datasets.model import Example
from ci_trainer.errors import DatasetError, DatasetIssue


def parse_yaml_nodes(text: str, name: str) -> list[Example]:
    try:
        root = yaml.compose(text, Loader=yaml_loader.LOADER)
    except yaml.YAMLError as exc:
        raise yaml_loader.yaml_error(exc, name, text) from None
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
            unknown = sorted(fields.keys() - yaml_loader.EXAMPLE_FIELDS)
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

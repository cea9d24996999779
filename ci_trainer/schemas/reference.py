"""The "Configuration reference" Markdown section, generated from the JSON Schema.

The committed section in docs/configuration.md must equal `render_reference()`; a test
checks it. Rewrite it in place with:

    python -m ci_trainer.schemas.reference docs/configuration.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

HEADING = "## Configuration reference"
REGENERATE_COMMAND = "python -m ci_trainer.schemas.reference docs/configuration.md"

_INTRO = f"""\
<!-- Generated from ci_trainer/schemas/training-config.schema.json; do not edit by hand.
     Regenerate: {REGENERATE_COMMAND} -->

`training-config.yaml` is a YAML mapping; the keys below are all it may hold (an unknown
key is an error with a "did you mean" hint). Secrets never go in the file: the webhook
and the credentials are read from environment variables, and a key that looks like a
secret (`client_secret`, `password`, `token`, `api_key`, ...) is rejected. Paths are
relative to the config file and must stay inside the repository.

Editors with the YAML language server (VS Code's YAML extension, JetBrains, Neovim)
complete and check the file against the JSON Schema. Save the schema next to the config
and name it on the config's first line:

```sh
ci-trainer schema config > training-config.schema.json
```

```yaml
# yaml-language-server: $schema=./training-config.schema.json
version: 1
model:
  id: my-model
datasets:
  - id: ds_intent_001
    path: datasets/intents.yaml
```
"""


def render_reference(schema: Mapping[str, Any]) -> str:
    """The whole section, heading included, ending in one newline."""
    parts = [HEADING, "", _INTRO]
    for title, node in _sections(schema, schema, ""):
        parts.append(f"### {title}\n")
        description = node.get("description")
        if description and title != "Top level":
            parts.append(f"{description}\n")
        parts.append(_table(schema, node, title))
    return "\n".join(parts).rstrip("\n") + "\n"


def _sections(
    schema: Mapping[str, Any], node: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(heading, object schema) for the root and every nested section, depth first."""
    yield ("Top level" if not prefix else f"`{prefix}`"), node
    for key, prop in node.get("properties", {}).items():
        target, is_list = _object_target(schema, prop)
        if target is not None:
            child = f"{prefix}.{key}" if prefix else key
            merged = dict(target)
            merged["description"] = prop.get("description") or target.get("description")
            yield from _sections(schema, merged, child + ("[]" if is_list else ""))


def _object_target(
    schema: Mapping[str, Any], prop: Mapping[str, Any]
) -> tuple[Mapping[str, Any] | None, bool]:
    """The object schema a property holds (directly, nullable, or as list items)."""
    if "$ref" in prop:
        return _deref(schema, prop["$ref"]), False
    for option in prop.get("anyOf", []):
        if "$ref" in option:
            return _deref(schema, option["$ref"]), False
    items = prop.get("items")
    if isinstance(items, Mapping) and "$ref" in items:
        return _deref(schema, items["$ref"]), True
    return None, False


def _deref(schema: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    node: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def _table(schema: Mapping[str, Any], node: Mapping[str, Any], title: str) -> str:
    required = set(node.get("required", []))
    rows = ["| Key | Type | Default | Allowed | Description |", "|---|---|---|---|---|"]
    for key, prop in node.get("properties", {}).items():
        target, _ = _object_target(schema, prop)
        default = "required" if key in required else _default_text(prop, target)
        cells = [
            f"`{key}`",
            _type_text(prop, target),
            default,
            _allowed_text(prop),
            _escape(prop.get("description", "")),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _type_text(prop: Mapping[str, Any], target: Mapping[str, Any] | None) -> str:
    if target is not None:
        if prop.get("type") == "array":
            return "list of mappings"
        nullable = any(option.get("type") == "null" for option in prop.get("anyOf", []))
        return "mapping or null" if nullable else "mapping"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " or ".join(f"`{json.dumps(value)}`" for value in prop["enum"])
    options = prop.get("anyOf") or [prop]
    names = []
    for option in options:
        kind = option.get("type", "any")
        if kind == "array":
            kind = f"list of {option.get('items', {}).get('type', 'any')}"
        names.append({"number": "number", "integer": "integer", "null": "null"}.get(kind, kind))
    return " or ".join(names)


def _default_text(prop: Mapping[str, Any], target: Mapping[str, Any] | None) -> str:
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`"
    return "see below" if target is not None else ""


def _allowed_text(prop: Mapping[str, Any]) -> str:
    limits: dict[str, Any] = {}
    for option in prop.get("anyOf") or [prop]:
        limits.update(option)
    words = []
    if "minimum" in limits and "maximum" in limits:
        words.append(f"{limits['minimum']} to {limits['maximum']}")
    else:
        low = (
            f">= {limits['minimum']}"
            if "minimum" in limits
            else f"> {limits['exclusiveMinimum']}"
            if "exclusiveMinimum" in limits
            else None
        )
        high = (
            f"<= {limits['maximum']}"
            if "maximum" in limits
            else f"< {limits['exclusiveMaximum']}"
            if "exclusiveMaximum" in limits
            else None
        )
        words.extend(bound for bound in (low, high) if bound)
    if limits.get("minLength"):
        words.append("non-empty")
    if limits.get("minItems"):
        words.append(f"at least {limits['minItems']} item")
    if "pattern" in limits:
        words.append(f"pattern `{limits['pattern']}`")
    return _escape(", ".join(words))


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def extract_section(document: str) -> str:
    """The reference section of a Markdown document, up to the next `## ` heading."""
    start = document.find(HEADING + "\n")
    if start < 0:
        return ""
    # The blank line before the next heading belongs to the layout, not to the section.
    end = document.find("\n## ", start + len(HEADING))
    return document[start:] if end < 0 else document[start:end]


def update_document(document: str, section: str) -> str:
    """`document` with its reference section replaced (or appended) by `section`."""
    current = extract_section(document)
    if current:
        return document.replace(current, section, 1)
    return document.rstrip("\n") + ("\n\n" if document.strip() else "") + section


def main(argv: list[str] | None = None) -> int:
    from ci_trainer.schemas import config_schema  # the package this module belongs to

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write(f"usage: {REGENERATE_COMMAND}\n")
        return 2
    path = Path(args[0])
    document = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(update_document(document, render_reference(config_schema())), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

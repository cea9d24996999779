"""What the emulator reads from `ci_trainer/backends/cognigy_v1/openapi.yaml`: routes, scopes, schemas.

`ci_trainer.backends.cognigy_v1.contract` reads the document, its operations and its schemas; this
module adds what only a server needs: werkzeug routes, the success body's required
fields (for the `missing_field` fault) and request errors as `{field, message}` for 400
answers.

The emulator serves exactly the operations the contract lists, enforces the scopes the
contract names per operation, and validates request bodies with the contract's schemas,
so a change to the contract changes the emulator with it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ci_trainer.backends.cognigy_v1 import contract as api_contract


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # the contract's template, e.g. /models/{modelId}/train
    scopes: tuple[str, ...]
    request_schema: str | None  # component name of the JSON request body, if any
    request_required: bool
    response_required: tuple[str, ...]  # required fields of the success body

    @property
    def werkzeug_rule(self) -> str:
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)


@functools.cache
def operations() -> dict[str, Operation]:
    """operationId -> Operation, for every operation in the contract."""
    return {
        operation_id: _served(found, api_contract.operation_spec(operation_id))
        for operation_id, found in api_contract.operations().items()
    }


def _served(found: api_contract.Operation, spec: dict[str, Any]) -> Operation:
    body = spec.get("requestBody", {})
    json_body = body.get("content", {}).get("application/json", {}).get("schema", {})
    return Operation(
        operation_id=found.operation_id,
        method=found.method,
        path=found.path,
        scopes=found.scopes,
        request_schema=_component_name(json_body.get("$ref")),
        request_required=bool(body.get("required", False)),
        response_required=_success_required(spec),
    )


def _success_required(spec: dict[str, Any]) -> tuple[str, ...]:
    schemas = api_contract.document()["components"]["schemas"]
    for status in sorted(spec.get("responses", {})):
        if not status.startswith("2"):
            continue
        response = spec["responses"][status]
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        name = _component_name(schema.get("$ref"))
        if name:
            return tuple(schemas[name].get("required", []))
    return ()


def _component_name(ref: str | None) -> str | None:
    prefix = "#/components/schemas/"
    return ref[len(prefix) :] if ref and ref.startswith(prefix) else None


def validation_errors(component: str, instance: Any) -> list[dict[str, str]]:
    """Field-level errors (`field`, `message`) of `instance` against a contract schema."""
    errors = sorted(
        api_contract.component_validator(component).iter_errors(instance),
        key=lambda e: list(e.absolute_path),
    )
    return [
        {"field": _field_path(error.absolute_path) or "(body)", "message": error.message}
        for error in errors
    ]


def _field_path(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def is_valid_id(value: str) -> bool:
    """True when `value` matches the contract's `Id` schema (path parameters)."""
    return not validation_errors("Id", value)

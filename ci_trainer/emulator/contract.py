"""What the emulator reads from `ci_trainer/api/openapi.yaml`: routes, scopes, schemas.

The client's `ci_trainer.api.contract` validates responses; this module adds what only a
server needs: werkzeug routes, the success body's required fields (for the
`missing_field` fault) and request errors as `{field, message}` for 400 answers.

The emulator serves exactly the operations the contract lists, enforces the scopes the
contract names per operation, and validates request bodies with the contract's schemas,
so a change to the contract changes the emulator with it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ci_trainer.api import contract as api_contract

_DOC_URI = "urn:ci-trainer:openapi"
_METHODS = ("get", "post", "put", "patch", "delete")


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


def openapi_document() -> dict[str, Any]:
    """The contract, parsed once for client and emulator alike."""
    return api_contract.document()


@functools.lru_cache(maxsize=1)
def operations() -> dict[str, Operation]:
    """operationId -> Operation, for every operation in the contract."""
    document = openapi_document()
    default_security = document.get("security", [])
    found: dict[str, Operation] = {}
    for path, item in document["paths"].items():
        for method in _METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            operation = _operation(document, path, method, spec, default_security)
            found[operation.operation_id] = operation
    return found


def _operation(
    document: dict[str, Any],
    path: str,
    method: str,
    spec: dict[str, Any],
    default_security: list[dict[str, list[str]]],
) -> Operation:
    security = spec.get("security", default_security)
    scopes = tuple(scope for requirement in security for scope in requirement.get("oauth2", []))
    body = spec.get("requestBody", {})
    json_body = body.get("content", {}).get("application/json", {}).get("schema", {})
    return Operation(
        operation_id=spec["operationId"],
        method=method.upper(),
        path=path,
        scopes=scopes,
        request_schema=_component_name(json_body.get("$ref")),
        request_required=bool(body.get("required", False)),
        response_required=_success_required(document, spec),
    )


def _success_required(document: dict[str, Any], spec: dict[str, Any]) -> tuple[str, ...]:
    for status in sorted(spec.get("responses", {})):
        if not status.startswith("2"):
            continue
        response = spec["responses"][status]
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        name = _component_name(schema.get("$ref"))
        if name:
            return tuple(document["components"]["schemas"][name].get("required", []))
    return ()


def _component_name(ref: str | None) -> str | None:
    prefix = "#/components/schemas/"
    return ref[len(prefix) :] if ref and ref.startswith(prefix) else None


@functools.cache
def schema_validator(component: str) -> Draft202012Validator:
    """A validator for one `components/schemas` entry, with the contract's $refs resolved."""
    resource = Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_DOC_URI, resource)
    schema = {"$ref": f"{_DOC_URI}#/components/schemas/{component}"}
    return Draft202012Validator(schema, registry=registry)


def validation_errors(component: str, instance: Any) -> list[dict[str, str]]:
    """Field-level errors (`field`, `message`) of `instance` against a contract schema."""
    errors = sorted(
        schema_validator(component).iter_errors(instance), key=lambda e: list(e.absolute_path)
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

"""The REST contract (`openapi.yaml`) as data: look up operations, validate bodies.

The document is read once, on first use, not at import: `ci-trainer run` must reach its
first HTTP request quickly, and nothing needs the contract before the first response.
Validators are built per (operation, status) on first use and cached.

`validate_response` is also what the emulator's tests use to check every response it
serves, so client and emulator are held to the same document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from ci_trainer.errors import ContractError

if TYPE_CHECKING:  # jsonschema costs ~90 ms to import; only pay for it when validating
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

DOCUMENT_URI = "urn:ci-trainer:openapi"
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_JSON_MEDIA_TYPES = ("application/json", "application/problem+json")
_MAX_ERRORS = 5  # more than this in one message helps nobody


@dataclass(frozen=True)
class Operation:
    """One operation of the contract, by its operationId."""

    operation_id: str
    method: str
    path: str
    extension: bool
    scopes: tuple[str, ...]


@functools.cache
def document() -> dict[str, Any]:
    """The parsed openapi.yaml shipped in this package (read once)."""
    import yaml

    text = (
        resources.files("ci_trainer.backends.cognigy_v1")
        .joinpath("openapi.yaml")
        .read_text("utf-8")
    )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster
    parsed: dict[str, Any] = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    return parsed


@functools.cache
def operations() -> dict[str, Operation]:
    """Every operation of the contract, keyed by operationId."""
    return {op.operation_id: op for op in _iter_operations(document())}


def operation(operation_id: str) -> Operation:
    try:
        return operations()[operation_id]
    except KeyError:
        msg = f"no operation {operation_id!r} in openapi.yaml"
        raise KeyError(msg) from None


def _iter_operations(doc: Mapping[str, Any]) -> Iterator[Operation]:
    default_security = doc.get("security", [])
    for path, item in doc.get("paths", {}).items():
        for method in _HTTP_METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            security = spec.get("security", default_security)
            scopes = tuple(
                scope for requirement in security for v in requirement.values() for scope in v
            )
            yield Operation(
                operation_id=spec["operationId"],
                method=method.upper(),
                path=path,
                extension=bool(spec.get("x-extension", False)),
                scopes=scopes,
            )


def operation_spec(operation_id: str) -> dict[str, Any]:
    """The operation's object in openapi.yaml (its parameters, requestBody, responses)."""
    op = operation(operation_id)
    spec: dict[str, Any] = document()["paths"][op.path][op.method.lower()]
    return spec


def _follow(node: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
    """Follow local `$ref`s (components/responses, requestBodies) to the object they name.

    Returns the object and its JSON pointer in the document, which the schema validator
    needs so the relative refs inside resolve against the whole document.
    """
    for _ in range(20):  # a cycle of refs is a broken document, not an endless loop
        ref = node.get("$ref")
        if ref is None:
            return node, pointer
        if not isinstance(ref, str) or not ref.startswith("#/"):
            msg = f"unsupported $ref {ref!r} in openapi.yaml"
            raise ValueError(msg)
        target: Any = document()
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node, pointer = target, ref
    msg = f"$ref cycle at {pointer!r} in openapi.yaml"
    raise ValueError(msg)


def _json_schema_pointer(content: Mapping[str, Any], base: str) -> str | None:
    for media_type in _JSON_MEDIA_TYPES:
        if media_type in content and "schema" in content[media_type]:
            return f"{base}/content/{_escape(media_type)}/schema"
    return None


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _response_schema_pointer(operation_id: str, status: int) -> str | None:
    """JSON pointer (into the document) of the body schema for this response, if any."""
    responses = operation_spec(operation_id).get("responses", {})
    op = operation(operation_id)
    for key in (str(status), f"{status // 100}XX", "default"):
        if key not in responses:
            continue
        node, base = _follow(
            responses[key], f"#/paths/{_escape(op.path)}/{op.method.lower()}/responses/{key}"
        )
        return _json_schema_pointer(node.get("content", {}), base)
    return None


def _request_schema_pointer(operation_id: str) -> str | None:
    op = operation(operation_id)
    body = operation_spec(operation_id).get("requestBody")
    if body is None:
        return None
    body, base = _follow(body, f"#/paths/{_escape(op.path)}/{op.method.lower()}/requestBody")
    content = body.get("content", {})
    pointer = _json_schema_pointer(content, base)
    if pointer is None and "application/x-www-form-urlencoded" in content:
        pointer = f"{base}/content/{_escape('application/x-www-form-urlencoded')}/schema"
    return pointer


@functools.cache
def _registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    # The whole document is one resource, so "#/components/schemas/X" refs resolve in it.
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT_URI, resource)


@functools.cache
def _validator(pointer: str) -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        {"$ref": DOCUMENT_URI + pointer},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def component_validator(name: str) -> Validator:
    """A validator for one `components/schemas` entry, with the contract's $refs resolved."""
    return _validator(f"#/components/schemas/{_escape(name)}")


_REQUIRED = re.compile(r"^'(?P<name>.+)' is a required property$")


def _describe(error: ValidationError) -> str:
    """One error as "field 'a.b': what is wrong", naming a missing field by its full path."""
    path = [str(part) for part in error.absolute_path]
    missing = _REQUIRED.match(error.message) if error.validator == "required" else None
    if missing:
        return f"field '{'.'.join([*path, missing['name']])}': missing (required)"
    where = ".".join(path) if path else "(whole body)"
    return f"field '{where}': {_short(error.message)}"


def _errors(pointer: str, body: Any) -> list[str]:
    found = _validator(pointer).iter_errors(body)
    return [_describe(e) for e in sorted(found, key=lambda e: [str(p) for p in e.absolute_path])]


def _short(text: str, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def response_errors(operation_id: str, status: int, body: Any) -> list[str]:
    """Every way `body` breaks the contract for this response; [] when it conforms.

    A status the operation does not describe, or a response without a JSON body, has
    nothing to check and yields [].
    """
    pointer = _response_schema_pointer(operation_id, status)
    return [] if pointer is None else _errors(pointer, body)


def request_errors(operation_id: str, body: Any) -> list[str]:
    """Every way a request body breaks the contract; [] when it conforms."""
    pointer = _request_schema_pointer(operation_id)
    return [] if pointer is None else _errors(pointer, body)


def validate_response(
    operation_id: str,
    status: int,
    body: Any,
    *,
    call: str | None = None,
    redact: Callable[[str], str] = str,
) -> None:
    """Raise ContractError naming the endpoint and fields when `body` breaks the contract.

    Messages quote offending values; `redact` (a Redactor) keeps secrets out of them.
    """
    problems = [redact(problem) for problem in response_errors(operation_id, status, body)]
    if not problems:
        return
    shown = "; ".join(problems[:_MAX_ERRORS])
    more = len(problems) - _MAX_ERRORS
    if more > 0:
        shown += f"; and {more} more"
    raise ContractError(
        call=call or operation_id,
        message_text=f"the HTTP {status} response does not match the contract: {shown}",
        status=status,
        hint_text="the training service does not speak the API version ci-trainer expects; "
        "check COGNIGY_BASE_URL points at the v1 API",
    )


def documented_statuses(operation_id: str) -> list[str]:
    """The response keys the contract lists for an operation ("200", "default", ...)."""
    return list(operation_spec(operation_id).get("responses", {}).keys())

"""Response body -> typed model, or a ContractError that names the endpoint and field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ci_trainer.backends.cognigy_v1 import contract
from ci_trainer.errors import ContractError
from ci_trainer.http.client import HttpResponse
from ci_trainer.http.status import scrub_body
from ci_trainer.http.strict_json import StrictJsonError
from ci_trainer.redact import Redactor

M = TypeVar("M", bound=BaseModel)
_CONTRACT_HINT = (
    "the service does not answer in the shape of the v1 contract; check that "
    "COGNIGY_BASE_URL points at the v1 API and quote the traceId to support"
)


def json_body(response: HttpResponse, redactor: Redactor) -> Any:
    """The parsed body, or ContractError when it is not JSON."""
    try:
        return response.json()
    except StrictJsonError as exc:
        # Duplicate keys or NaN: Python would read it, but one of its figures is no figure.
        raise ContractError(
            call=response.call.label,
            message_text=redactor(
                f"the HTTP {response.status} response is not strict JSON (RFC 8259): {exc}"
            ),
            status=response.status,
            body=scrub_body(response.text, redactor),
            hint_text=_CONTRACT_HINT,
        ) from None
    except ValueError:
        raise ContractError(
            call=response.call.label,
            message_text=f"the HTTP {response.status} response is not valid JSON",
            status=response.status,
            body=scrub_body(response.text, redactor) if response.content else "(empty)",
            hint_text=_CONTRACT_HINT,
        ) from None


def checked(response: HttpResponse, body: Any, model: type[M], redactor: Redactor) -> M:
    """Validate `body` against openapi.yaml, then parse it into `model`."""
    try:
        contract.validate_response(
            response.call.operation_id,
            response.status,
            body,
            call=response.call.label,
            redact=redactor,
        )
    except ContractError as error:
        error.body = scrub_body(response.text, redactor)
        error.hint = _CONTRACT_HINT
        raise
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ContractError(
            call=response.call.label,
            message_text="the response does not match the contract: " + _fields(exc),
            status=response.status,
            body=scrub_body(response.text, redactor),
            hint_text=_CONTRACT_HINT,
        ) from None


def decode(response: HttpResponse, model: type[M], redactor: Redactor) -> M:
    return checked(response, json_body(response, redactor), model, redactor)


def _fields(exc: ValidationError) -> str:
    # Never include the offending value: it could be a token.
    return "; ".join(
        f"field '{'.'.join(str(p) for p in err['loc']) or '(whole body)'}': {err['msg']}"
        for err in exc.errors()[:5]
    )

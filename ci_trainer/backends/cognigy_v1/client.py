"""The typed client of the v1 training service: one method per endpoint.

Each method sends one call under the HTTP policy (ci_trainer.http.client), handles a 401
with exactly one fresh token and one retry, checks the body against openapi.yaml and
returns a pydantic model. A 404 from an optional endpoint (cancel, production, predict)
raises `FeatureUnavailable`, so callers can go on without that feature.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

from ci_trainer.backends.cognigy_v1 import contract
from ci_trainer.backends.cognigy_v1.auth import REQUIRED_SCOPES, ClientCredentials, describe_scopes
from ci_trainer.backends.cognigy_v1.conflicts import conflict_texts
from ci_trainer.backends.cognigy_v1.decode import checked, decode, json_body
from ci_trainer.backends.cognigy_v1.models import (
    TRAINING_STATUS_VALUES,
    DatasetStatsBody,
    PredictResponse,
    ProductionVersion,
    PromotionBody,
    Token,
    TrainingMetrics,
    TrainingStarted,
    TrainingStatus,
)
from ci_trainer.errors import AuthError, ContractError, FeatureUnavailable
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.client import Call, HttpClient, HttpResponse
from ci_trainer.http.policy import RetryMode, RetryPolicy
from ci_trainer.http.status import error_from_response
from ci_trainer.redact import Redactor

PREDICT_MAX_TEXTS = 100  # PredictRequest.texts maxItems in openapi.yaml
IDEMPOTENCY_KEY_LENGTH = (8, 255)  # the Idempotency-Key header's bounds in openapi.yaml
_EXTENSION_ABSENT = frozenset({404, 405, 501})

# Paths per operationId; tests check them against openapi.yaml, which is not read at
# start-up so the first request goes out quickly.
PATHS: dict[str, tuple[str, str]] = {
    "getToken": ("POST", "/auth/token"),
    "getDatasetStats": ("GET", "/datasets/{datasetId}/stats"),
    "startTraining": ("POST", "/models/{modelId}/train"),
    "getTrainingStatus": ("GET", "/models/{modelId}/training/{trainingId}/status"),
    "getTrainingMetrics": ("GET", "/models/{modelId}/training/{trainingId}/metrics"),
    "cancelTraining": ("POST", "/models/{modelId}/training/{trainingId}/cancel"),
    "getProductionVersion": ("GET", "/models/{modelId}/versions/production"),
    "predict": ("POST", "/models/{modelId}/versions/{versionId}/predict"),
    "promoteVersion": ("POST", "/models/{modelId}/versions/{versionId}/promote"),
}
EXTENSIONS = frozenset({"cancelTraining", "getProductionVersion", "predict"})


# The contract's Id (openapi.yaml, components.schemas.Id; a test keeps them equal). No
# id may begin with a dot, so none can be a dot segment ("." or ".."), which clients and
# servers remove from a path; "/", "?", "#" and "%" are not allowed either.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
ID_MAX_LENGTH = 200


def id_problem(value: str) -> str | None:
    """Why `value` cannot go into a path as one id, or None when it can."""
    if len(value) > ID_MAX_LENGTH:
        return f"is longer than {ID_MAX_LENGTH} characters"
    if not ID_PATTERN.fullmatch(value):
        return "is not an id: a letter or digit, then letters, digits, '.', '_', ':' or '-'"
    return None


def make_call(operation_id: str, **ids: str) -> Call:
    """The Call for an operation with its path ids filled in. An id the contract does not
    allow is refused before anything is sent, so no id can change which URL is called."""
    method, template = PATHS[operation_id]
    for name, value in ids.items():
        problem = id_problem(value)
        if problem is not None:
            shown = value[:40] + ("..." if len(value) > 40 else "")
            raise ContractError(
                call=operation_id,
                message_text=f"{name} {shown!r} {problem}; nothing was sent",
                hint_text="the id came from the service or the config; quote it to support",
            )
    path = template.format(**{name: quote(value, safe="") for name, value in ids.items()})
    return Call(operation_id, method, path)


class TrainingClient:
    """Talks to one training service for one run. Close it (or use `with`) when done."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        redactor: Redactor,
        stop: threading.Event | None = None,
        policy: RetryPolicy | None = None,
        budget: RequestBudget | None = None,
        scopes: Iterable[str] = REQUIRED_SCOPES,
        wait: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.redactor = redactor
        self.http = HttpClient(
            base_url,
            redactor=redactor,
            stop=stop,
            policy=policy,
            budget=budget,
            wait=wait,
            rng=rng,
            now=now,
        )
        self.auth = ClientCredentials(
            self.http, client_id, client_secret, redactor=redactor, scopes=scopes, clock=clock
        )

    def __enter__(self) -> TrainingClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- endpoints ------------------------------------------------------------------

    def token(self) -> Token:
        """Make sure a token is held and return it (its `scopes` are what was granted)."""
        self.auth.bearer()
        token = self.auth.current
        if token is None:  # bearer() always leaves one; this keeps the type honest
            msg = "no token after a successful token request"
            raise AssertionError(msg)
        return token

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        return self.auth.granted_scopes

    def dataset_stats(self, dataset_id: str) -> DatasetStatsBody:
        call = make_call("getDatasetStats", datasetId=dataset_id)
        return decode(self._send(call, retry=RetryMode.SAFE), DatasetStatsBody, self.redactor)

    def start_training(
        self, model_id: str, body: Mapping[str, Any], *, idempotency_key: str | None
    ) -> TrainingStarted:
        """Start a training. With a key the call is retried safely: the service returns
        the first job for a repeated key. Without one it is never repeated once sent."""
        headers: dict[str, str] = {}
        retry = RetryMode.CONNECT_ONLY
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
            headers["Idempotency-Key"] = idempotency_key
            retry = RetryMode.SAFE
        call = make_call("startTraining", modelId=model_id)
        response = self._send(call, retry=retry, json_body=dict(body), headers=headers)
        return decode(response, TrainingStarted, self.redactor)

    def training_status(self, model_id: str, training_id: str) -> TrainingStatus:
        """The job's status; `retry_after` holds the response's Retry-After, if any."""
        call = make_call("getTrainingStatus", modelId=model_id, trainingId=training_id)
        return self._status(self._send(call, retry=RetryMode.SAFE))

    def training_metrics(self, model_id: str, training_id: str) -> TrainingMetrics:
        call = make_call("getTrainingMetrics", modelId=model_id, trainingId=training_id)
        return decode(self._send(call, retry=RetryMode.SAFE), TrainingMetrics, self.redactor)

    def cancel_training(self, model_id: str, training_id: str) -> TrainingStatus:
        """Extension. Cancelling twice is harmless, so the call is retried freely."""
        call = make_call("cancelTraining", modelId=model_id, trainingId=training_id)
        return self._status(self._send(call, retry=RetryMode.SAFE))

    def production_version(self, model_id: str) -> ProductionVersion:
        """Extension. `version_id` is None while nothing was promoted."""
        call = make_call("getProductionVersion", modelId=model_id)
        return decode(self._send(call, retry=RetryMode.SAFE), ProductionVersion, self.redactor)

    def predict(self, model_id: str, version_id: str, texts: Sequence[str]) -> PredictResponse:
        """Extension. At most PREDICT_MAX_TEXTS texts; one prediction each, in order."""
        if not 1 <= len(texts) <= PREDICT_MAX_TEXTS:
            msg = f"predict takes 1..{PREDICT_MAX_TEXTS} texts per call, got {len(texts)}"
            raise ValueError(msg)
        call = make_call("predict", modelId=model_id, versionId=version_id)
        response = self._send(call, retry=RetryMode.SAFE, json_body={"texts": list(texts)})
        result = decode(response, PredictResponse, self.redactor)
        if len(result.predictions) != len(texts):
            raise ContractError(
                call=call.label,
                message_text=f"{len(texts)} texts sent but {len(result.predictions)} "
                "predictions returned",
                status=response.status,
                hint_text="the service must answer one prediction per text, in order",
            )
        return result

    def promote(
        self, model_id: str, version_id: str, environment: str | None = None
    ) -> PromotionBody:
        """Promote a version. Retried only when the request never reached the service."""
        call = make_call("promoteVersion", modelId=model_id, versionId=version_id)
        body = {"environment": environment} if environment else None
        response = self._send(call, retry=RetryMode.CONNECT_ONLY, json_body=body)
        return decode(response, PromotionBody, self.redactor)

    # -- one call, with the 401 rule --------------------------------------------------

    def _send(
        self,
        call: Call,
        *,
        retry: RetryMode,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        token = self.auth.bearer()
        response = self._send_with(call, token, retry, json_body, headers)
        if response.status == 401:
            # Exactly one fresh token and one retry: the token may have been revoked.
            token = self.auth.renew(rejected=token)
            response = self._send_with(call, token, retry, json_body, headers)
            if response.status == 401:
                raise self._auth_error(response, "the service refused a freshly issued token")
        if response.status == 403:
            raise self._auth_error(response, "the token lacks a scope this call needs")
        if call.operation_id in EXTENSIONS and response.status in _EXTENSION_ABSENT:
            msg = f"{call.label}: HTTP {response.status}; this service does not offer the optional endpoint"
            raise FeatureUnavailable(msg)
        if not response.ok:
            texts = conflict_texts(call.operation_id)
            raise error_from_response(response, self.redactor, texts=texts)
        return response

    def _send_with(
        self,
        call: Call,
        token: str,
        retry: RetryMode,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> HttpResponse:
        all_headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return self.http.send(call, retry=retry, headers=all_headers, json_body=json_body)

    def _auth_error(self, response: HttpResponse, message: str) -> AuthError:
        needed = contract.operation(response.call.operation_id).scopes
        hint = (
            f"ci-trainer {describe_scopes(REQUIRED_SCOPES, self.granted_scopes)}; "
            f"this call needs {' '.join(needed) or 'a valid token'}; grant the missing "
            "scopes to the API client"
        )
        error = error_from_response(
            response, self.redactor, message=message, hint=hint, error_type=AuthError
        )
        granted = self.granted_scopes
        error.extra["required_scopes"] = list(REQUIRED_SCOPES)
        error.extra["granted_scopes"] = sorted(granted) if granted is not None else None
        return error

    def _status(self, response: HttpResponse) -> TrainingStatus:
        body = json_body(response, self.redactor)
        _check_status_value(response, body, self.redactor)
        status = checked(response, body, TrainingStatus, self.redactor)
        return status.model_copy(
            update={
                "retry_after": response.retry_after,
                "refused_wait": response.refused_wait,
                "wait_limit": response.wait_limit,
            }
        )


def _check_status_value(response: HttpResponse, body: Any, redactor: Redactor) -> None:
    """A clearer error than the schema's for the most likely drift: a new status word."""
    value = body.get("status") if isinstance(body, dict) else None
    if isinstance(value, str) and value not in TRAINING_STATUS_VALUES:
        raise ContractError(
            call=response.call.label,
            message_text=f"unknown training status {redactor(value)[:40]!r} "
            f"(the contract knows {', '.join(TRAINING_STATUS_VALUES)})",
            status=response.status,
            hint_text="the service added a status ci-trainer does not know; "
            "report it so the contract can be extended",
        )


def _check_idempotency_key(key: str) -> None:
    low, high = IDEMPOTENCY_KEY_LENGTH
    if not low <= len(key) <= high or not key.isprintable() or not key.isascii():
        msg = f"an Idempotency-Key must be {low}..{high} printable ASCII characters"
        raise ValueError(msg)

"""The emulator's HTTP face: a WSGI app that routes the contract's operations to `Service`.

Per request, in this order: route (from openapi.yaml), count the call of that operation,
inject the fault plan's "before" faults, apply the rate limit, authenticate and check the
operation's scopes, validate the body, run the service, then the "after" faults
(malformed JSON, missing field, patch, late drop). Every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ci_trainer.backends.cognigy_v1.emulator import contract
from ci_trainer.backends.cognigy_v1.emulator.auth import Grant
from ci_trainer.backends.cognigy_v1.emulator.service import Service
from ci_trainer.emulator.faults import Fault, FaultPlan
from ci_trainer.emulator.problem import Problem
from ci_trainer.emulator.ratelimit import RateLimit, TokenBuckets
from ci_trainer.emulator.requestlog import RequestRecord
from ci_trainer.emulator.routing import url_map

logger = logging.getLogger("ci_trainer.emulator")

BASE_PATH = "/api/v1"
_JOB_FAULTS = ("job_failed", "job_stuck")


class ConnectionDropped(ConnectionAbortedError):
    """Raised after the emulator closed a connection on purpose (fault `drop`)."""


@dataclass
class _Call:
    request: Request
    operation: contract.Operation
    params: dict[str, str]
    number: int
    faults: list[Fault]

    def fault(self, *kinds: str) -> Fault | None:
        return next((fault for fault in self.faults if fault.kind in kinds), None)


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str]
    problem: bool = False


class EmulatorApp:
    def __init__(
        self,
        service: Service,
        *,
        fault_plan: FaultPlan | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.service = service
        self.fault_plan = fault_plan or FaultPlan()
        self.buckets = TokenBuckets(rate_limit) if rate_limit else None
        self.url_map = url_map(
            Rule(BASE_PATH + op.werkzeug_rule, endpoint=op.operation_id, methods=[op.method])
            for op in contract.operations().values()
        )
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._handlers: dict[str, Callable[[_Call, Grant], _Answer]] = {
            "getDatasetStats": self._dataset_stats,
            "startTraining": self._start_training,
            "getTrainingStatus": self._training_status,
            "getTrainingMetrics": self._training_metrics,
            "cancelTraining": self._cancel_training,
            "getProductionVersion": self._production_version,
            "predict": self._predict,
            "promoteVersion": self._promote,
        }

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    # -- the request pipeline -----------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        try:
            endpoint, params = self.url_map.bind_to_environ(request.environ).match()
        except NotFound:
            return self._unrouted(request, 404, "no such endpoint in the v1 contract")
        except MethodNotAllowed as exc:
            allowed = ", ".join(exc.valid_methods or [])
            return self._unrouted(request, 405, f"method not allowed; use {allowed}")
        operation = contract.operations()[str(endpoint)]
        call = _Call(request, operation, dict(params), self._count(operation.operation_id), [])
        call.faults = self.fault_plan.matching(operation.operation_id, call.number)
        try:
            answer = self._answer(call)
            if not answer.problem:
                self._after_faults(call, answer)
        except ConnectionDropped:
            # Record first: the client sees the drop at once and may inspect the log.
            self._record(call, None)
            _close(request)
            raise
        self._record(call, answer.status)
        return self._response(request, answer)

    def _answer(self, call: _Call) -> _Answer:
        try:
            self._before_faults(call)
            self._rate_limit(call)
            return self._dispatch(call)
        except Problem as problem:
            return _problem_answer(call.request, problem)
        except ConnectionDropped:
            raise
        except Exception:  # our bug: a problem document like a real service, and the log
            logger.exception("%s failed", call.operation.operation_id)
            return _problem_answer(call.request, Problem(500, "internal error in the emulator"))

    def _count(self, operation_id: str) -> int:
        with self._calls_lock:
            self._calls[operation_id] += 1
            return self._calls[operation_id]

    def call_count(self, operation_id: str) -> int:
        with self._calls_lock:
            return self._calls[operation_id]

    def _before_faults(self, call: _Call) -> None:
        for fault in call.faults:
            if fault.kind == "delay":
                time.sleep(fault.seconds)
            elif fault.kind == "status":
                raise Problem(
                    fault.status,
                    fault.message or "injected failure (fault plan)",
                    headers=_retry_after(fault),
                )
            elif fault.kind == "drop" and fault.when == "before":
                _drop(call.request)
            elif fault.kind == "external_promotion":
                model_id = call.params.get("modelId") or self._last_model()
                if model_id:
                    self.service.promote_externally(model_id)

    def _last_model(self) -> str | None:
        trainings = self.service.snapshot().trainings
        return next(reversed([view.model_id for view in trainings.values()]), None)

    def _rate_limit(self, call: _Call) -> None:
        if self.buckets is None:
            return
        wait = self.buckets.take(self._client(call) or call.request.remote_addr or "?")
        if wait > 0:
            raise Problem(
                429,
                "rate limit exceeded for this client; wait for Retry-After seconds",
                headers={"Retry-After": str(max(1, round(wait + 0.5)))},
            )

    def _dispatch(self, call: _Call) -> _Answer:
        if call.operation.operation_id == "getToken":
            expires = call.fault("token_expires_in")
            form = {key: str(value) for key, value in call.request.form.items()}
            body = self.service.issue_token(form, expires.seconds if expires else None)
            return _Answer(200, body, {"Cache-Control": "no-store"})
        grant = self.service.authorize(
            call.request.headers.get("Authorization"), call.operation.scopes
        )
        for name, value in call.params.items():
            if not contract.is_valid_id(value):
                raise Problem(404, f"{name} {value!r} is not a valid id")
        return self._handlers[call.operation.operation_id](call, grant)

    def _after_faults(self, call: _Call, answer: _Answer) -> None:
        for fault in call.faults:
            if fault.kind == "drop" and fault.when == "after":
                _drop(call.request)
            elif fault.kind == "missing_field" and isinstance(answer.body, dict):
                name = fault.field or next(iter(call.operation.response_required), "")
                answer.body.pop(name, None)
            elif fault.kind == "patch" and isinstance(answer.body, dict):
                for path, value in fault.set.items():
                    _set_path(answer.body, path, value)
                answer.headers.update(_retry_after(fault))
            elif fault.kind == "malformed_json":
                text = json.dumps(answer.body)
                answer.body = _Malformed(text[: max(1, len(text) // 2)])

    # -- operations -----------------------------------------------------------------------

    def _dataset_stats(self, call: _Call, grant: Grant) -> _Answer:
        return _ok(self.service.dataset_stats(call.params["datasetId"]))

    def _start_training(self, call: _Call, grant: Grant) -> _Answer:
        key = call.request.headers.get("Idempotency-Key")
        if key is not None and not 8 <= len(key) <= 255:
            raise Problem(
                400,
                "Idempotency-Key must be 8 to 255 characters",
                errors=[{"field": "Idempotency-Key", "message": "length must be 8..255"}],
            )
        status, body = self.service.start_training(
            call.params["modelId"],
            _json_body(call),
            client_id=grant.client_id,
            idempotency_key=key,
            fault=call.fault(*_JOB_FAULTS),
        )
        return _Answer(status, body, {})

    def _training_status(self, call: _Call, grant: Grant) -> _Answer:
        return _ok(self.service.training_status(call.params["modelId"], call.params["trainingId"]))

    def _training_metrics(self, call: _Call, grant: Grant) -> _Answer:
        return _ok(self.service.training_metrics(call.params["modelId"], call.params["trainingId"]))

    def _cancel_training(self, call: _Call, grant: Grant) -> _Answer:
        return _ok(self.service.cancel_training(call.params["modelId"], call.params["trainingId"]))

    def _production_version(self, call: _Call, grant: Grant) -> _Answer:
        return _ok(self.service.production_version(call.params["modelId"]))

    def _predict(self, call: _Call, grant: Grant) -> _Answer:
        body = _json_body(call)
        return _ok(
            self.service.predict(call.params["modelId"], call.params["versionId"], body["texts"])
        )

    def _promote(self, call: _Call, grant: Grant) -> _Answer:
        body = _json_body(call)
        environment = str(body.get("environment") or "production")
        return _ok(
            self.service.promote(call.params["modelId"], call.params["versionId"], environment)
        )

    # -- output -------------------------------------------------------------------------

    def _unrouted(self, request: Request, status: int, detail: str) -> Response:
        answer = _problem_answer(request, Problem(status, detail))
        self.service.record(RequestRecord(method=request.method, path=request.path, status=status))
        return self._response(request, answer)

    def _record(self, call: _Call, status: int | None) -> None:
        entry = RequestRecord(
            method=call.request.method,
            path=call.request.path,
            operation=call.operation.operation_id,
            call=call.number,
            status=status,
            client_id=self._client(call),
            faults=tuple(fault.kind for fault in call.faults),
            idempotency_key=call.request.headers.get("Idempotency-Key"),
        )
        self.service.record(entry)
        logger.info(
            "%s %s -> %s%s",
            entry.method,
            entry.path,
            "dropped" if status is None else status,
            f" (faults: {', '.join(entry.faults)})" if entry.faults else "",
        )

    def _client(self, call: _Call) -> str | None:
        if call.operation.operation_id == "getToken":
            return call.request.form.get("client_id") or None
        return self.service.client_of(call.request.headers.get("Authorization"))

    def _response(self, request: Request, answer: _Answer) -> Response:
        if isinstance(answer.body, _Malformed):
            payload = answer.body.text
        else:
            payload = json.dumps(answer.body)  # allow_nan: a `patch` fault may inject NaN
        mimetype = "application/problem+json" if answer.problem else "application/json"
        return Response(payload, status=answer.status, headers=answer.headers, mimetype=mimetype)


@dataclass
class _Malformed:
    text: str


def _ok(body: dict[str, Any]) -> _Answer:
    return _Answer(200, body, {})


def _problem_answer(request: Request, problem: Problem) -> _Answer:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
        "traceId": uuid.uuid4().hex,
    }
    if problem.errors:
        body["errors"] = problem.errors
    return _Answer(problem.status, body, dict(problem.headers), problem=True)


def _json_body(call: _Call) -> dict[str, Any]:
    raw = call.request.get_data(as_text=True)
    operation = call.operation
    if not raw.strip():
        if operation.request_required:
            raise Problem(400, "a JSON request body is required")
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Problem(400, "the request body is not valid JSON") from None
    if operation.request_schema:
        errors = contract.validation_errors(operation.request_schema, body)
        if errors:
            raise Problem(400, "the request body breaks the contract", errors=errors)
    if not isinstance(body, dict):
        raise Problem(400, "the request body must be a JSON object")
    return body


def _retry_after(fault: Fault) -> dict[str, str]:
    if fault.retry_after is not None:
        return {"Retry-After": f"{fault.retry_after:g}"}
    if fault.retry_after_date is not None:
        when = datetime.now(timezone.utc) + timedelta(seconds=fault.retry_after_date)
        return {"Retry-After": format_datetime(when, usegmt=True)}
    return {}


def _drop(request: Request) -> None:
    """Abandon the request; `_respond` closes the connection without an answer."""
    raise ConnectionDropped


def _close(request: Request) -> None:
    """Shut the client's connection down, as a crashing proxy would."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _set_path(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = body
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value

"""The fault plan: scripted failures the emulator injects, by operation and call number.

A plan is a list of faults. Each fault names an `operation` (an operationId of
`ci_trainer/backends/cognigy_v1/openapi.yaml`, or `"*"` for every operation), the 1-based `calls` of that
operation it applies to (omitted: every call), and a `kind`. Calls are counted per
operation over the emulator's lifetime, every request included (failed ones too), so
"the 2nd status poll" means the same thing whatever happened before it.

Kinds and their fields (docs/emulator.md has the recipes):

- `status`        answer `status` (default 503) with a problem body; optional
                  `retry_after` (delta-seconds) or `retry_after_date` (seconds from now,
                  sent as an HTTP-date).
- `delay`         sleep `seconds` before answering normally (beyond a client's timeout).
- `drop`          close the connection without a response; `when: before` (default: the
                  request is not processed) or `when: after` (processed, e.g. the training
                  was started, but the answer is lost).
- `malformed_json` answer 200 with a body that is not JSON.
- `missing_field` remove top-level `field` (default: the first required field) from the body.
- `patch`         merge `set` (field -> value; dotted paths reach nested objects) into the
                  body: unknown status values, progress going backwards, NaN metrics;
                  `retry_after` sends that Retry-After with the successful answer.
- `job_failed`    (startTraining) the training this call starts ends FAILED with `message`
                  once it reaches `at_progress` percent (default 50).
- `job_stuck`     (startTraining) the training this call starts stays RUNNING until cancelled.
- `token_expires_in` (getToken) the token issued lives `seconds` only.
- `external_promotion` before answering, "someone else" trains a new version of the
                  request's model and promotes it (the production pointer moves mid-run).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_trainer.decision import Decision
from ci_trainer.errors import CiTrainerError

OPERATIONS = (
    "getToken",
    "getDatasetStats",
    "startTraining",
    "getTrainingStatus",
    "getTrainingMetrics",
    "cancelTraining",
    "getProductionVersion",
    "predict",
    "promoteVersion",
)

KINDS = (
    "status",
    "delay",
    "drop",
    "malformed_json",
    "missing_field",
    "patch",
    "job_failed",
    "job_stuck",
    "token_expires_in",
    "external_promotion",
)

# Kinds that only make sense on one operation, because they act on what it creates.
_KIND_OPERATION = {
    "job_failed": "startTraining",
    "job_stuck": "startTraining",
    "token_expires_in": "getToken",
}

_FIELDS_BY_KIND: dict[str, frozenset[str]] = {
    "status": frozenset({"status", "retry_after", "retry_after_date", "message"}),
    "delay": frozenset({"seconds"}),
    "drop": frozenset({"when"}),
    "malformed_json": frozenset(),
    "missing_field": frozenset({"field"}),
    "patch": frozenset({"set", "retry_after"}),
    "job_failed": frozenset({"message", "at_progress"}),
    "job_stuck": frozenset({"at_progress"}),
    "token_expires_in": frozenset({"seconds"}),
    "external_promotion": frozenset(),
}
_COMMON_FIELDS = frozenset({"operation", "calls", "kind"})


class FaultPlanError(CiTrainerError):
    """The fault plan cannot be used; the message names the fault and field."""

    decision = Decision.INVALID


@dataclass(frozen=True)
class Fault:
    """One scripted failure. Construct directly in tests, or load a plan from YAML."""

    operation: str
    kind: str
    calls: tuple[int, ...] | None = None
    status: int = 503
    retry_after: float | None = None
    retry_after_date: float | None = None
    seconds: float = 0.0
    when: str = "before"
    field: str | None = None
    set: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    message: str | None = None
    at_progress: float = 50.0

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            msg = f"fault {self.kind!r} on {self.operation!r}: {problem}"
            raise FaultPlanError(msg)

    def _problem(self) -> str | None:
        if self.operation != "*" and self.operation not in OPERATIONS:
            return f"operation: unknown operationId{_did_you_mean(self.operation, OPERATIONS)}"
        if self.kind not in KINDS:
            return f"kind: unknown kind{_did_you_mean(self.kind, KINDS)}"
        required_op = _KIND_OPERATION.get(self.kind)
        if required_op and self.operation != required_op:
            return f"operation: kind {self.kind} applies to {required_op} only"
        if self.calls is not None and (not self.calls or any(c < 1 for c in self.calls)):
            return "calls: call numbers start at 1 (omit `calls` for every call)"
        return self._value_problem()

    def _value_problem(self) -> str | None:
        if self.kind == "status" and not 400 <= self.status <= 599:
            return "status: must be an HTTP error status from 400 to 599"
        if self.retry_after is not None and self.retry_after_date is not None:
            return "give retry_after (seconds) or retry_after_date, not both"
        if self.kind in ("delay", "token_expires_in") and self.seconds <= 0:
            return "seconds: must be a positive number"
        if self.when not in ("before", "after"):
            return "when: must be 'before' or 'after'"
        if self.kind == "patch" and not self.set and self.retry_after is None:
            return (
                "set: give at least one field -> value to merge into the response "
                "(or a retry_after to send with it)"
            )
        if not 0.0 <= self.at_progress <= 100.0:
            return "at_progress: must be a percentage from 0 to 100"
        return None

    def applies_to(self, operation: str, call: int) -> bool:
        if self.operation not in ("*", operation):
            return False
        return self.calls is None or call in self.calls


@dataclass(frozen=True)
class FaultPlan:
    """An ordered list of faults; several may apply to the same call (e.g. delay + status)."""

    faults: tuple[Fault, ...] = ()

    def matching(self, operation: str, call: int) -> list[Fault]:
        return [fault for fault in self.faults if fault.applies_to(operation, call)]

    @classmethod
    def of(cls, *faults: Fault) -> FaultPlan:
        return cls(faults=tuple(faults))

    @classmethod
    def from_yaml(cls, path: str | Path) -> FaultPlan:
        source = str(path)
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            msg = f"{source}: cannot read the fault plan: {exc.strerror or exc}"
            raise FaultPlanError(msg) from None
        except yaml.YAMLError as exc:
            msg = f"{source}: not valid YAML: {exc}"
            raise FaultPlanError(msg) from None
        return cls.from_data(data, source=source)

    @classmethod
    def from_data(cls, data: Any, *, source: str = "fault plan") -> FaultPlan:
        """Build a plan from `{faults: [...]}` or a bare list of fault mappings."""
        if data is None:
            return cls()
        entries = data.get("faults", []) if isinstance(data, Mapping) else data
        if isinstance(data, Mapping) and set(data) - {"faults"}:
            extra = ", ".join(sorted(map(str, set(data) - {"faults"})))
            msg = f"{source}: unknown top-level key(s) {extra}; expected `faults`"
            raise FaultPlanError(msg)
        if not isinstance(entries, list):
            msg = f"{source}: `faults` must be a list of faults"
            raise FaultPlanError(msg)
        return cls(
            faults=tuple(
                _fault_from_mapping(entry, source, n) for n, entry in enumerate(entries, 1)
            )
        )


def _fault_from_mapping(entry: Any, source: str, number: int) -> Fault:
    where = f"{source}: fault #{number}"
    if not isinstance(entry, Mapping):
        msg = f"{where}: expected a mapping with operation, kind and calls"
        raise FaultPlanError(msg)
    for key in ("operation", "kind"):
        if not isinstance(entry.get(key), str):
            msg = f"{where}: {key}: required, a string"
            raise FaultPlanError(msg)
    kind = str(entry["kind"])
    allowed = _COMMON_FIELDS | _FIELDS_BY_KIND.get(kind, frozenset())
    unknown = sorted(set(map(str, entry)) - allowed)
    if unknown:
        msg = (
            f"{where}: field(s) {', '.join(unknown)} do not apply to kind {kind!r}"
            f" (allowed: {', '.join(sorted(allowed))})"
        )
        raise FaultPlanError(msg)
    kwargs = {key: value for key, value in entry.items() if key != "calls"}
    try:
        return Fault(calls=_calls(entry.get("calls"), where), **kwargs)
    except FaultPlanError as exc:
        msg = f"{where}: {exc.message}"
        raise FaultPlanError(msg) from None
    except TypeError as exc:
        msg = f"{where}: {exc}"
        raise FaultPlanError(msg) from None


def _calls(value: Any, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    calls: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            msg = f"{where}: calls: expected call numbers (1, 2, ...), got {item!r}"
            raise FaultPlanError(msg)
        calls.append(item)
    return tuple(calls)


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" {value!r}; did you mean {close[0]!r}?" if close else f" {value!r}"

"""How a run that did not reach a verdict ends: the one place that turns an exception
into a decision, a reason and the messages the user sees.

It is used for every failure, whenever it happens: a mistake in the action's inputs, a
config that cannot be read, an unusable dataset, a service error, a cancelled run, and
our own bug. So each reads the same on every path: in the log and annotations, in the
summary, the audit record and the webhook event.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from ci_trainer.decision import Decision
from ci_trainer.errors import (
    ApiError,
    CiTrainerError,
    ConfigError,
    ConfigIssue,
    DatasetError,
    Interrupted,
)
from ci_trainer.pipeline.findings import Findings
from ci_trainer.result import ErrorInfo, Message, SupportInfo
from ci_trainer.settings import COMMAND_LINE, INPUTS, INPUTS_WHERE
from ci_trainer.signals import STOP_GRACE_SECONDS

Redact = Callable[[str], str]


@dataclass(frozen=True)
class Failure:
    """A run's decision when it ended by an exception; redacted, ready for the RunResult."""

    decision: Decision
    reason: str
    reasons: list[str]
    messages: list[Message]
    error: ErrorInfo
    support: SupportInfo | None = None
    # Our bug: the traceback, for the log (not for the record).
    trace: str | None = field(default=None, repr=False)


def failure(exc: BaseException, findings: Findings, redact: Redact) -> Failure:
    """The decision, reason and messages for `exc`, given what the stages found before it."""
    if isinstance(exc, ConfigError):
        return _invalid_config(exc, redact)
    if isinstance(exc, DatasetError):
        return _invalid_dataset(exc, redact)
    if isinstance(exc, Interrupted):
        return _failed(exc, _interrupted_reason(findings), redact)
    if isinstance(exc, ApiError):
        return _failed(exc, str(exc), redact, support=_support(exc, findings))
    if isinstance(exc, CiTrainerError):
        return _failed(exc, str(exc), redact, decision=exc.decision)
    return _bug(exc, redact)


def abandoned(findings: Findings, *, cancelled: bool, redact: Redact) -> Failure:
    """A stop the pipeline did not honour in time (a request still open): the run ends
    without it, saying where its training was left."""
    last = findings.attempts[-1] if findings.attempts else None
    where = (
        f"; training {last.training_id} "
        + ("was cancelled on the service" if cancelled else "may still be running")
        if last is not None
        else ""
    )
    return _failed(
        Interrupted("the pipeline did not stop in time"),
        "the run was cancelled (SIGINT/SIGTERM) while a request to the service was "
        f"still open after {STOP_GRACE_SECONDS:g} s{where}",
        redact,
    )


# Issues about a setting rather than a file line: what the annotation's title calls it.
_NO_FILE = {INPUTS_WHERE: "input", COMMAND_LINE: "option"}


def _invalid_config(exc: ConfigError, redact: Redact) -> Failure:
    """Every issue as an error located where it is: a config line, or an action input."""
    messages = [_issue_message(issue, redact) for issue in exc.issues]
    reasons = [redact(_located(issue)) for issue in exc.issues]
    first = reasons[0] if reasons else redact(str(exc))
    count = len(exc.issues)
    source = exc.source if exc.source in (INPUTS, COMMAND_LINE) else "the config"
    return Failure(
        decision=Decision.INVALID,
        reason=f"{count} problem{'s' if count != 1 else ''} in {source}: {first}",
        reasons=reasons,
        messages=messages,
        error=_error_info(exc, redact),
    )


def _issue_message(issue: ConfigIssue, redact: Redact) -> Message:
    text = f"{issue.field}: {issue.message}" if issue.field else issue.message
    text += f" ({issue.hint})" if issue.hint else ""
    if issue.file in _NO_FILE:  # no file to point at: the title names the input
        title = f"{_NO_FILE[issue.file]} {issue.field}"
        return Message(level="error", text=redact(text), title=title)
    return Message(
        level="error",
        text=redact(text),
        title="Invalid training config",
        file=issue.file,
        line=issue.line,
        column=issue.column,
    )


def _located(issue: ConfigIssue) -> str:
    """The issue with where it is: `file:line:col: field: ...`, or `input: ...`."""
    if issue.file not in _NO_FILE:
        return str(issue)
    return f"{issue.field}: {issue.message}" + (f" ({issue.hint})" if issue.hint else "")


def _invalid_dataset(exc: DatasetError, redact: Redact) -> Failure:
    messages = [
        Message(
            level="error",
            text=redact(issue.message + (f" ({issue.hint})" if issue.hint else "")),
            title="Invalid dataset",
            file=issue.file,
            line=issue.line,
        )
        for issue in exc.issues
    ]
    reasons = [redact(str(issue)) for issue in exc.issues]
    first = reasons[0] if reasons else redact(str(exc))
    return Failure(
        decision=Decision.INVALID,
        reason=f"a dataset cannot be used: {first}",
        reasons=reasons,
        messages=messages,
        error=_error_info(exc, redact),
    )


def _failed(
    exc: BaseException,
    reason: str,
    redact: Redact,
    *,
    decision: Decision = Decision.FAILED,
    support: SupportInfo | None = None,
    trace: str | None = None,
) -> Failure:
    reason = redact(reason)
    return Failure(
        decision=decision,
        reason=reason,
        reasons=[reason],
        messages=[Message(level="error", text=reason, title=f"Run {decision.value}")],
        error=_error_info(exc, redact),
        support=support,
        trace=trace,
    )


def _bug(exc: BaseException, redact: Redact) -> Failure:
    """Not a user's mistake: the traceback (redacted) goes to the log for a bug report."""
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return _failed(
        exc,
        f"internal error {type(exc).__name__}: {exc} (this is a ci-trainer bug; "
        "please report it with the log above)",
        redact,
        trace=redact(trace),
    )


def _interrupted_reason(findings: Findings) -> str:
    reason = "the run was cancelled (SIGINT/SIGTERM)"
    last = findings.attempts[-1] if findings.attempts else None
    if last is None:
        return reason + " before training started"
    if last.status == "CANCELLED":
        return reason + f"; training {last.training_id} was cancelled on the service"
    return reason + f"; training {last.training_id} may still be running on the service"


def _support(exc: ApiError, findings: Findings) -> SupportInfo | None:
    """What a support ticket needs when a server error ended the run."""
    if exc.status is None or exc.status < 500:
        return None
    return SupportInfo(
        endpoint=exc.call,
        status=exc.status,
        trace_id=exc.trace_id,
        response_body=exc.body,
        dataset_ids=[d.id for d in findings.datasets],
        request_payload=findings.training_request,
    )


def _error_info(exc: BaseException, redact: Redact) -> ErrorInfo:
    return ErrorInfo(type=type(exc).__name__, message=redact(str(exc)))

"""Writes that may have been applied (C1): when the answer to a POST is lost, look for
what the write created before deciding whether to send it again.

Cognigy's own client never repeats a POST or PATCH after a 5xx or a timeout: the service
may have done the work, with only its answer lost (a gateway's 502, a read timeout). A
blind repeat starts a second training, a second import or a second snapshot. So a write
goes through `send_reconciled`:

1. send it. An answer is final, and so is a failure that proves nothing was applied (a
   4xx refusal, or a connection that was never made, which the HTTP layer has already
   retried);
2. after a failure that may have been applied, look for what the write created (for
   a call that creates a Task: `created_task`, which reads the project's task list). If
   it is there, use it and do not send again;
3. if nothing is there, the write was not applied, so send it once more;
4. if that also fails ambiguously, look once more (a read, never a third send). Use what
   is found, or else fail and say what the tenant may hold and where to check.

A 2xx whose body cannot be read (not JSON, not the contract's shape) is no lost answer:
the service accepted the write. It is looked up like one, but never sent again; if
nothing it created is listed, the run fails and says where to check.

The list can only show what the service has recorded. If it lagged behind the write, a
Task that was created could go unseen in step 2, and step 3 would start a second one.
No source documents such a lag; Tasks are records that exist before the answer is sent.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.errors import ApiError, ContractError
from ci_trainer.redact import Redactor, one_line

log = logging.getLogger("ci_trainer.backends.cognigy_v2")

T = TypeVar("T")

# Statuses that say the request was refused, not lost: 501 (the service has no such
# operation) and 511 (a proxy wants a login, so the service never saw the request).
_REFUSED_5XX = frozenset({501, 511})

# How far the runner's clock and the tenant's may disagree when a Task's `createdAt` is
# compared with the moment we sent the write. GitHub-hosted runners and SaaS tenants keep
# NTP time, well under a second apart, and `createdAt` is in whole seconds. Self-hosted
# runners and on-prem installations can drift further, so the allowance is two minutes.
# The cost of a wide allowance: if our write was never applied, a Task of the same kind
# (and flow and locale, when the Task shows them) that someone else started in the two
# minutes before our send is taken for ours. That needs a second actor training the same
# flow at the same moment, which would spoil the run's figures anyway.
CLOCK_SKEW_SECONDS = 120.0


def may_have_applied(exc: ApiError) -> bool:
    """Whether the failed write may have been done by the service despite the error.

    True for a final 5xx (but 501 and 511) or 408 status, and for a transport failure
    whose request may have left (`extra["sent"]` is not False: a read timeout, a reset
    after sending, the deadline). False for any other 4xx (the service refused it) and
    for a failure before anything was sent. An error without a status or a transport
    verdict (an id refused before sending) is not a lost answer either.
    """
    if exc.status is not None:
        return exc.status == 408 or (exc.status >= 500 and exc.status not in _REFUSED_5XX)
    return exc.extra.get("sent", False) is not False


def accepted_unreadable(exc: ApiError) -> bool:
    """Whether the service answered the write with a 2xx whose body could not be read:
    it did the write, so it must never be sent again."""
    return isinstance(exc, ContractError) and exc.status is not None and 200 <= exc.status < 300


@dataclass(frozen=True)
class Write(Generic[T]):
    """One write that a blind repeat could apply twice.

    `find(sent_at)` returns what a send at `sent_at` (epoch seconds) created, or None if
    nothing it created is there. `check` names where a user can see for themselves
    whether it was applied, for when ci-trainer cannot tell ("the trainIntents Tasks of
    project P for flowId F, localeId L"). `name` names what was found ("Task ...").
    """

    operation: str
    what: str
    send: Callable[[], T]
    find: Callable[[float], T | None]
    check: str
    name: Callable[[T], str]


def send_reconciled(
    write: Write[T], *, redactor: Redactor, clock: Callable[[], float] = time.time
) -> T:
    """Send `write` at most twice, never after it may have been applied (see the module)."""
    sent_at = clock()
    first = _answer_or_lost(write)
    if not isinstance(first, ApiError):
        return first
    found = _look(write, first, sent_at, redactor)
    if found is not None:
        return found
    if accepted_unreadable(first):
        raise _unread(write, first)
    _notice(
        redactor,
        f"{write.operation}: {_failure(first)} for {write.what}, and nothing it created is "
        "listed, so the service did not apply it; sending it once more",
    )
    sent_at = clock()
    second = _answer_or_lost(write)
    if not isinstance(second, ApiError):
        return second
    found = _look(write, second, sent_at, redactor)
    if found is not None:
        return found
    if accepted_unreadable(second):
        raise _unread(write, second)
    raise _unknown_state(write, first, second)


def _answer_or_lost(write: Write[T]) -> T | ApiError:
    """The answer, or the failure after which the write may have been applied. Any
    other failure is raised, because the write is known not to have been done."""
    try:
        return write.send()
    except ApiError as exc:
        if not (may_have_applied(exc) or accepted_unreadable(exc)):
            raise
        return exc


def _look(write: Write[T], lost: ApiError, sent_at: float, redactor: Redactor) -> T | None:
    try:
        found = write.find(sent_at)
    except ApiError as exc:
        # Unknown whether the write was applied, so sending it again could double it.
        raise _reworded(
            lost,
            f"{_failure(lost)} for {write.what}, and what it created could not be looked "
            f"up ({_shown(exc.message_text)}), "
            + (
                "so what the service started cannot be followed"
                if accepted_unreadable(lost)
                else "so the service may or may not have applied it"
            ),
            write.check,
        ) from None
    if found is not None:
        _notice(
            redactor,
            f"{write.operation}: the answer {_how_missed(lost)} ({_failure(lost)}), but the "
            f"service had applied it: using {write.name(found)} for {write.what} and not sending "
            "it again",
        )
    return found


def _unread(write: Write[T], answer: ApiError) -> ApiError:
    return _reworded(
        answer,
        f"the service accepted {write.what} (HTTP {answer.status}), but its answer could "
        f"not be read ({_shown(answer.message_text)}) and nothing it created is listed yet, "
        "so it is not sent again",
        write.check,
    )


def _unknown_state(write: Write[T], first: ApiError, second: ApiError) -> ApiError:
    return _reworded(
        second,
        f"{write.what} failed twice without an answer ({_failure(first)}, then "
        f"{_failure(second)}). Nothing it created was listed after either attempt, but the "
        "service may still have applied the second one",
        write.check,
    )


def _reworded(error: ApiError, message: str, check: str) -> ApiError:
    """`error` (status, detail, traceId kept for the support ticket) with a message that
    says what state the tenant may be in."""
    return dataclasses.replace(
        error,
        message_text=message,
        hint_text=f"check {check} in Cognigy.AI before re-running: if it is there, let it "
        "finish or cancel it, then re-run the job",
        extra={**error.extra, "may_have_applied": True},
    )


def _how_missed(exc: ApiError) -> str:
    return "could not be read" if accepted_unreadable(exc) else "was lost"


def _failure(exc: ApiError) -> str:
    if exc.status is not None:
        return f"HTTP {exc.status}"
    kind = exc.extra.get("failure")
    return f"no answer: {kind}" if isinstance(kind, str) else "no answer"


def _shown(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _notice(redactor: Redactor, text: str) -> None:
    # One line on stderr, which the runner also reads for commands: redacted, neutralised.
    log.warning("%s", one_line(redactor(_shown(text, 600))))


# ---------------------------------------------------------------------- Tasks


@dataclass(frozen=True)
class TaskQuery:
    """What a write that creates a Task should have left in its project's task list.

    `echoes` are parameters the Task's `data` holds when it holds them at all. RAC
    types `data` as a free-form object, and the API reference documents none of its keys.
    The emulator echoes the body (flowId, localeId, mode), as the created Task's
    `parameters` suggest. So a key is compared only when the Task carries it. A Task that
    carries none is matched on its kind, its creation time and on not being one of `known`
    (the Tasks this run already started, e.g. another locale's training of the same flow).
    """

    project_id: str
    kind: str
    echoes: Mapping[str, str]
    known: frozenset[str] = frozenset()


def created_task(
    tasks: Iterable[Task], query: TaskQuery, sent_at: float, looked_at: float
) -> Task | None:
    """The Task of `tasks` that a write sent at `sent_at` created, if any.

    Two ways to tell ours from older ones were weighed. One reads the list before every
    write and takes the id that is new, which ignores clock skew. The other reads it only
    after a failure and takes a Task created since the send, with `CLOCK_SKEW_SECONDS`
    allowed. The list holds every Task the project ever ran, in no documented order, 100
    to a page. Reading it before each write would add that many pages to every import and
    training of every run, all to guard against a rare failure. So it is read only after
    a failure. When several Tasks match, the one created closest to the send is ours.
    """
    earliest, latest = sent_at - CLOCK_SKEW_SECONDS, looked_at + CLOCK_SKEW_SECONDS
    matches = [
        task
        for task in tasks
        if task.kind == query.kind
        and task.id not in query.known
        # Without a creation time a Task cannot be shown to be ours. RAC types
        # `createdAt` as a number on every list item.
        and task.created_at is not None
        and earliest <= task.created_at <= latest
        and all(task.data.get(key, value) == value for key, value in query.echoes.items())
    ]
    return min(matches, key=lambda task: abs((task.created_at or 0.0) - sent_at), default=None)


def task_write(
    client: CognigyV2Client,
    query: TaskQuery,
    what: str,
    send: Callable[[], Task],
    *,
    clock: Callable[[], float] = time.time,
) -> Write[Task]:
    """A write that creates a Task (`send`), looked for by `query` in the task list."""
    shown = ", ".join(f"{key} {value}" for key, value in query.echoes.items())

    def find(sent_at: float) -> Task | None:
        return created_task(client.list_tasks(query.project_id), query, sent_at, clock())

    return Write(
        operation=query.kind,
        what=what,
        send=send,
        find=find,
        check=f"the {query.kind} Tasks of project {query.project_id}"
        + (f" for {shown}" if shown else ""),
        name=lambda task: f"Task {task.id} ({task.status})",
    )

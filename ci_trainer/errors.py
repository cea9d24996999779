"""Exception types: each carries the decision the run ends with.

A user's mistake (bad config, bad dataset, missing scope) is a `CiTrainerError` and is
reported as a message; anything else reaching the top level is our bug and keeps its
traceback. An error's exit code is its decision's, from the one table in `result`
(`decision.EXIT_CODES`), so a class never states a code of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ci_trainer.decision import Decision


class CiTrainerError(Exception):
    """Base for every error we raise on purpose. `str()` is safe to print: no secrets."""

    decision: ClassVar[Decision] = Decision.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    @property
    def exit_code(self) -> int:
        """The code the process ends with when this error ends the run."""
        return self.decision.exit_code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class IncompleteCredentials(CiTrainerError):
    """Some credentials are set but not all: a misnamed or missing secret, which must not
    pass as the fork case ("no credentials at all", skipped) and give a green run that
    trained nothing."""

    decision = Decision.INVALID


class FeatureUnavailable(CiTrainerError):
    """An optional part of the service is not offered (by this backend, tenant or plan).

    The one way a backend says "not available": the method asked for the feature
    (cancel, production, predict, dataset statistics) raises it, and the pipeline goes
    on without that feature. There are no capability flags to consult first.
    """


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file, located at the YAML node that caused it."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(CiTrainerError):
    """The config file cannot be used. Holds every issue found, not just the first."""

    decision = Decision.INVALID

    def __init__(self, issues: list[ConfigIssue], *, source: str = "the training config") -> None:
        """`source` names what the issues are in (the action's inputs are checked the
        same way as the config file)."""
        self.issues = list(issues)
        self.source = source
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in {source}"
        super().__init__(head + ":\n" + "\n".join(f"  {issue}" for issue in self.issues))


@dataclass(frozen=True)
class DatasetIssue:
    file: str
    line: int | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else "")


class DatasetError(CiTrainerError):
    """A dataset file cannot be read (format, encoding, path outside the workspace)."""

    decision = Decision.INVALID

    def __init__(self, issues: list[DatasetIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass
class ApiError(CiTrainerError):
    """A call to the training service failed after the HTTP policy gave up.

    `body` is already trimmed and redacted; it is kept for support tickets.
    """

    call: str
    message_text: str
    status: int | None = None
    title: str | None = None
    detail: str | None = None
    trace_id: str | None = None
    body: str | None = None
    hint_text: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        CiTrainerError.__init__(self, self.message_text, hint=self.hint_text)

    def __str__(self) -> str:
        parts = [f"{self.call}: {self.message_text}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.detail:
            parts.append(self.detail)
        if self.trace_id:
            parts.append(f"traceId {self.trace_id}")
        text = "; ".join(parts)
        return f"{text} ({self.hint})" if self.hint else text


class AuthError(ApiError):
    """Credentials rejected, token refused, or a required scope missing."""


class ContractError(ApiError):
    """The service answered, but not in the shape the contract describes."""


class TrainingFailed(CiTrainerError):
    """The remote training ended FAILED or CANCELLED, or never ended in time."""


class Interrupted(CiTrainerError):
    """The runner cancelled the job (SIGINT/SIGTERM)."""


class EmulatorStateError(CiTrainerError):
    """The embedded emulator's state folder (`run --emulator`) cannot be used: unreadable,
    corrupt, or written for another backend. The message names the folder and the reset
    flag."""

    decision = Decision.INVALID

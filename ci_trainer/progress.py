"""How the pipeline tells the outside world what is happening, without knowing GitHub.

The pipeline calls a `Reporter`; the CLI gives it a `ConsoleReporter`, the action a
GitHub one (`ci_trainer.github.GithubReporter`: `::group::`, annotations, masks).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, TextIO

from ci_trainer.redact import Redactor, neutralise_commands
from ci_trainer.result import Message


class Reporter(Protocol):
    def stage(self, name: str) -> AbstractContextManager[None]:
        """Context manager around one pipeline stage (a log group on Actions)."""
        ...

    def info(self, text: str) -> None: ...

    def message(self, message: Message) -> None:
        """A notice, warning or error for the user (an annotation on Actions)."""
        ...

    def secret(self, value: str) -> None:
        """Register a value that must never be printed (called before it is used)."""
        ...


class ConsoleReporter:
    """Plain text on a stream, for any CI that is not GitHub Actions."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        # Fed by `secret` with every form of every secret; the pipeline's texts quote
        # the service, which may echo one back.
        self._redact = Redactor(forms=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        self._write(f"==> {name}")
        try:
            yield
        finally:
            self._write(f"<== {name} ({time.monotonic() - started:.1f}s)")

    def info(self, text: str) -> None:
        self._write(text)

    def message(self, message: Message) -> None:
        where = ""
        if message.file:
            where = message.file + (f":{message.line}" if message.line else "")
            where += f":{message.column}" if message.line and message.column else ""
            where += ": "
        self._write(f"{message.level}: {where}{message.text}")

    def secret(self, value: str) -> None:
        self._redact.add(value)

    def _write(self, text: str) -> None:
        # Service and config text reaches this stream; a CI that is GitHub after all
        # (a `run:` step without GITHUB_ACTIONS) must not read any of it as a command.
        try:
            self._stream.write(neutralise_commands(self._redact(text)) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream must never end the run

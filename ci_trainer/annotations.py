"""Annotations: the runner's `::error file=F,line=L,col=C,title=T::text` commands.

Built here, written by `ci_trainer.github.Commands`. The rules are the runner's
(actions/runner `ActionCommand` and `IssueCommandExtension`):

- the text is data: `%`, CR and LF are escaped (`%25`, `%0D`, `%0A`), which the runner
  unescapes; a property value is escaped the same way plus `:` and `,` (`%3A`, `%2C`),
  which otherwise end the command's name part and separate properties;
- `file` is the path in the repository and `line`/`col` are 1-based; a `col` without a
  `line` is meaningless and dropped;
- GitHub shows at most 10 annotations of each kind (error, warning, notice) per step and
  silently drops the rest. So past nine of a kind, the last slot is held back until the
  run is over: it shows the tenth annotation when there were exactly ten, else one
  annotation that counts the ones that did not fit and sends the reader to the step
  summary, which lists every finding. Each held-back annotation still goes to the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ci_trainer.redact import neutralise_data

ANNOTATION_LIMIT = 10  # per kind and step, enforced by GitHub
ANNOTATION_KINDS = ("notice", "warning", "error")


def escape_data(value: str) -> str:
    """Escape the message part of a workflow command (the runner unescapes these)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a property value: as data, plus `:` and `,` which delimit properties."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def format_command(name: str, properties: Mapping[str, str | int | None], data: str) -> str:
    """One workflow command line; properties that are None or empty are left out."""
    pairs = [
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None and value != ""
    ]
    head = f"::{name} {','.join(pairs)}" if pairs else f"::{name}"
    return f"{head}::{escape_data(data)}"


@dataclass(frozen=True)
class Annotation:
    """One annotation, its text and title already neutralised (they may quote a service
    or a user's file: never a legacy `##[` command)."""

    kind: str
    text: str
    title: str | None = None
    file: str | None = None
    line: int | str | None = None
    col: int | str | None = None

    @classmethod
    def build(
        cls,
        kind: str,
        text: str,
        *,
        title: str | int | None = None,
        file: str | int | None = None,
        line: str | int | None = None,
        col: str | int | None = None,
    ) -> Annotation:
        if kind not in ANNOTATION_KINDS:
            msg = f"unknown annotation kind {kind!r}; expected one of {ANNOTATION_KINDS}"
            raise ValueError(msg)
        return cls(
            kind=kind,
            text=neutralise_data(text),
            title=neutralise_data(str(title)) if title is not None else None,
            file=str(file) if file not in (None, "") else None,
            line=line,
            col=col if line is not None else None,
        )

    def command(self) -> str:
        properties = {"file": self.file, "line": self.line, "col": self.col, "title": self.title}
        return format_command(self.kind, properties, self.text)

    def log_line(self) -> str:
        """The annotation as plain log text, `kind: file:line:col: text`."""
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.col is not None:
                    where += f":{self.col}"
            where += ": "
        return f"{self.kind}: {where}{self.text}"


def overflow(kind: str, count: int) -> Annotation:
    """The one annotation that stands for `count` of a kind GitHub would not show."""
    many = f"{count} more {kind}s"
    return Annotation(
        kind=kind,
        text=f"{many}: see the step summary (each is also in this step's log)",
        title=many,
    )


@dataclass
class Tally:
    """Annotations shown and held back so far, per kind, and the values masked."""

    shown: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ANNOTATION_KINDS, 0))
    held: dict[str, list[str]] = field(
        default_factory=lambda: {kind: [] for kind in ANNOTATION_KINDS}
    )
    masked: set[str] = field(default_factory=set)

    def reset(self) -> Tally:
        """Start counting afresh (a new run in the same process, e.g. in tests)."""
        self.shown.update(dict.fromkeys(ANNOTATION_KINDS, 0))
        for held in self.held.values():
            held.clear()
        self.masked.clear()
        return self


# GitHub's limit is per step, i.e. per process writing to stdout: every writer on stdout
# shares this tally, so what one held back another can flush.
STDOUT_TALLY = Tally()


@dataclass(frozen=True)
class Placed:
    """What to write for one annotation: the command now, and/or a line for the log."""

    command: str | None
    log: str | None


class Cap:
    """The per-kind limit over one tally: which annotations are shown now, held for the
    last slot, or only logged."""

    def __init__(self, tally: Tally, limit: int = ANNOTATION_LIMIT) -> None:
        self._tally = tally
        self._limit = limit

    def place(self, annotation: Annotation) -> Placed:
        kind = annotation.kind
        shown = self._tally.shown
        if shown[kind] >= self._limit:  # the count was already shown: log only
            return Placed(command=None, log=annotation.log_line())
        if shown[kind] < self._limit - 1:
            shown[kind] += 1
            return Placed(command=annotation.command(), log=None)
        # The last slot is kept for either this annotation (if it is the last) or the
        # count of those that do not fit; which, only `release` knows.
        self._tally.held[kind].append(annotation.command())
        return Placed(command=None, log=annotation.log_line())

    def release(self) -> list[str]:
        """The commands for the last slots: the one held annotation that fits, or the
        count of those that do not. Releasing again adds nothing."""
        commands = []
        for kind in ANNOTATION_KINDS:
            held = list(self._tally.held[kind])
            self._tally.held[kind].clear()
            if len(held) == 1:
                commands.append(held[0])
            elif held:
                commands.append(overflow(kind, len(held)).command())
            else:
                continue
            self._tally.shown[kind] += 1
        return commands

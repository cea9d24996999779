"""The GitHub Actions runtime: workflow commands, outputs, step summary, file ownership.

Hand-written on purpose: the PyPI helpers either skip escaping or write multi-line outputs
with a fixed delimiter. Everything here follows the runner's contract (see DESIGN.md):

- commands go to stdout as `::name key=value::data`, escaped and (annotations) capped per
  kind as `ci_trainer.annotations` builds them;
- outputs are appended to GITHUB_OUTPUT as `name<<DELIM`, with a fresh random DELIM per
  value that is checked not to occur in the value;
- the step summary is appended (never overwritten) in UTF-8 and kept under 1 MiB.

No write here may end the run: a broken stream or an unwritable file is reported once
and the run goes on, because the audit record and the exit code matter more.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ci_trainer.annotations import (
    ANNOTATION_KINDS,
    ANNOTATION_LIMIT,
    STDOUT_TALLY,
    Annotation,
    Cap,
    Tally,
    format_command,
)
from ci_trainer.redact import Redactor, neutralise_commands, neutralise_data
from ci_trainer.report import SUMMARY_LIMIT_BYTES, build_outputs, render_junit, render_summary
from ci_trainer.result import Message, RunResult

DEFAULT_OUTPUT_DIR = Path("ci-trainer-output")


class Commands:
    """Writes workflow commands to one stream (stdout on Actions; a StringIO in tests)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        limit: int = ANNOTATION_LIMIT,
        tally: Tally | None = None,
    ) -> None:
        self._stream = stream if stream is not None else sys.stdout
        # The reporter's annotations and `publish`'s count together on stdout (one step),
        # and `publish` can flush what the reporter held back.
        if tally is None:
            tally = STDOUT_TALLY if stream is None else Tally()
        self._tally = tally
        self._cap = Cap(tally, limit)
        self._broken = False

    def echo(self, text: str) -> None:
        """Plain log text, which may carry text from the service or a user file.

        Every line is neutralised (`ci_trainer.redact.neutralise_commands`). A block of
        several lines, or one that had to be neutralised, is also printed between
        `::stop-commands::` and its resume token, so the runner ignores it whatever
        our own rules missed.
        """
        safe = neutralise_commands(text)
        if "\n" in safe or safe != text:
            self.verbatim(safe)
        else:
            self._write(safe)

    def verbatim(self, text: str) -> None:
        """A block of foreign text, with command processing stopped around it.

        The resume token is random per block and checked not to occur in the text
        (the runner matches it case-insensitively), so the text cannot end the pause.
        """
        token = _fresh_token(text)
        self._write(f"::stop-commands::{token}")
        self._write(neutralise_commands(text))
        self._write(f"::{token}::")

    def add_mask(self, value: str) -> None:
        """Ask the runner to mask `value` (and each of its lines) in all later output."""
        if not value or value in self._tally.masked:
            return  # the runner keeps masks for the whole job; once is enough
        self._tally.masked.add(value)
        lines = [line for line in value.splitlines() if line.strip()]
        for item in [value] if len(lines) <= 1 else [value, *lines]:
            self._command("add-mask", {}, item)

    def start_group(self, title: str) -> None:
        self._command("group", {}, neutralise_data(title))

    def end_group(self) -> None:
        self._command("endgroup", {}, "")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.start_group(title)
        try:
            yield
        finally:
            self.end_group()

    def notice(self, text: str, **where: str | int | None) -> None:
        self.annotate("notice", text, **where)

    def warning(self, text: str, **where: str | int | None) -> None:
        self.annotate("warning", text, **where)

    def error(self, text: str, **where: str | int | None) -> None:
        self.annotate("error", text, **where)

    def annotate(
        self,
        kind: str,
        text: str,
        *,
        title: str | int | None = None,
        file: str | int | None = None,
        line: str | int | None = None,
        col: str | int | None = None,
    ) -> None:
        """One annotation; past the per-kind limit the text goes to the log instead."""
        annotation = Annotation.build(kind, text, title=title, file=file, line=line, col=col)
        placed = self._cap.place(annotation)
        if placed.command is not None:
            self._write(placed.command)
        if placed.log is not None:
            self.echo(placed.log)

    def flush(self) -> None:
        """Emit the held annotations: the one that fits, or a count of those that do not."""
        for command in self._cap.release():
            self._write(command)

    def _command(self, name: str, properties: Mapping[str, str | int | None], data: str) -> None:
        self._write(format_command(name, properties, data))

    def _write(self, line: str) -> None:
        if self._broken:
            return
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            self._broken = True  # a closed stdout must not end the run


def _fresh_token(text: str) -> str:
    lowered = text.lower()
    while True:
        token = f"ci-trainer-{secrets.token_hex(16)}"
        if token not in lowered:
            return token


class GithubReporter:
    """`ci_trainer.progress.Reporter` for Actions: log groups, annotations and masks."""

    def __init__(self, commands: Commands | None = None, *, workspace: str | None = None) -> None:
        # A reporter is made once per run; on stdout the step's tally starts with it, so
        # nothing held back by an earlier run in this process is flushed into this one.
        self.commands = commands or Commands(tally=STDOUT_TALLY.reset())
        # GitHub attaches an annotation to a file by its path in the repository, so paths
        # are made relative to the workspace (the checkout), whatever the working folder.
        self._env = {"GITHUB_WORKSPACE": workspace or os.environ.get("GITHUB_WORKSPACE", "")}
        # Every form of every secret, as `secret` is handed them: the runner masks only
        # what it was told to, and the CLI's output is not always on a runner.
        self._redact = Redactor(forms=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        name = self._redact(name)
        self.commands.start_group(name)
        try:
            yield
        finally:
            self.commands.echo(f"{name}: {time.monotonic() - started:.1f}s")
            self.commands.end_group()

    def info(self, text: str) -> None:
        self.commands.echo(self._redact(text))

    def message(self, message: Message) -> None:
        kind = message.level if message.level in ANNOTATION_KINDS else "warning"
        self.commands.annotate(
            kind,
            self._redact(message.text),
            title=self._redact(message.title) if message.title else message.title,
            file=workspace_relative(message.file, self._env) if message.file else None,
            line=message.line,
            col=message.column if message.line is not None else None,
        )

    def secret(self, value: str) -> None:
        self.commands.add_mask(value)
        self._redact.add(value)

    def close(self) -> None:
        self.commands.flush()


# --- file commands -------------------------------------------------------------------


def _fresh_delimiter(value: str) -> str:
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            return delimiter


def format_outputs(outputs: Mapping[str, str]) -> str:
    """Outputs in the runner's heredoc form, one fresh delimiter per value."""
    blocks = []
    for name, value in outputs.items():
        if not name or any(bad in name for bad in ("\n", "\r", "<<", "=")):
            msg = f"invalid output name {name!r}"
            raise ValueError(msg)
        delimiter = _fresh_delimiter(value)
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(blocks)


def append_text(path: Path, text: str) -> str | None:
    """Append UTF-8 text; returns the error text instead of raising."""
    try:
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None


def write_text(path: Path, text: str) -> str | None:
    """Write a whole file (creating its folder); returns the error text instead of raising."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None


def summary_budget(path: Path, limit: int = SUMMARY_LIMIT_BYTES) -> int:
    """Bytes still free in this step's summary (earlier writes in the step count too)."""
    try:
        used = path.stat().st_size
    except OSError:
        used = 0
    return max(0, limit - used)


# --- ownership -----------------------------------------------------------------------


def give_to_workspace_owner(paths: Iterable[Path | str], env: Mapping[str, str]) -> None:
    """Give files we wrote into the workspace to the workspace's owner.

    The container runs as root, so without this the runner's later steps (which run as
    the `runner` user) cannot modify or delete the audit log or output files. Folders we
    created inside the workspace on the way to a file are handed over too.
    """
    workspace_text = env.get("GITHUB_WORKSPACE")
    if not workspace_text or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    try:
        workspace = Path(workspace_text).resolve()
        owner = workspace.stat()
    except OSError:
        return
    for raw in paths:
        path = Path(raw).resolve()
        if path == workspace or workspace not in path.parents:
            continue  # never touch anything outside the workspace
        for item in (path, *path.parents):
            if item == workspace:
                break
            try:
                stat = item.lstat()
                if (stat.st_uid, stat.st_gid) != (owner.st_uid, owner.st_gid):
                    os.chown(item, owner.st_uid, owner.st_gid, follow_symlinks=False)
            except OSError:
                continue


def workspace_relative(path: str, env: Mapping[str, str]) -> str:
    """`path` relative to GITHUB_WORKSPACE when it lies inside it, else unchanged.

    Later steps run on the host, where the workspace is not `/github/workspace`: a path
    relative to the workspace is what `actions/upload-artifact` resolves correctly.
    """
    workspace_text = env.get("GITHUB_WORKSPACE")
    if not workspace_text or not path:
        return path
    try:
        workspace = Path(workspace_text).resolve()
        resolved = Path(path).resolve()
        return resolved.relative_to(workspace).as_posix()
    except (OSError, ValueError):
        return path


# --- publishing a run ----------------------------------------------------------------


def publish(
    result: RunResult,
    *,
    env: Mapping[str, str],
    output_dir: Path | None,
    commands: Commands | None = None,
    warn: Callable[[str], None] | None = None,
    junit: Path | None = None,
) -> list[Path]:
    """Write the run's outputs and step summary where this environment expects them,
    and its JUnit report to `junit` when given.

    On Actions (GITHUB_OUTPUT / GITHUB_STEP_SUMMARY set) they go to the runner's files;
    otherwise to `output_dir` (default `./ci-trainer-output/`) as `outputs.json` and
    `summary.md`. Returns the files written other than the runner's (the JUnit report,
    then those in `output_dir`). A write that fails becomes a warning (`warn`, by default
    an annotation); it never raises.
    """
    commands = commands or Commands()
    warn = warn or commands.warning
    directory = output_dir or DEFAULT_OUTPUT_DIR
    written: list[Path] = []
    problems: list[str] = []

    # First, so that the `junit` output names the report only once it is on disk.
    shown = ""
    if junit is not None:
        junit_problem = write_text(junit, render_junit(result))
        if junit_problem:
            warn(f"could not write the JUnit report: {junit_problem}")
        else:
            written.append(junit)
            shown = workspace_relative(str(junit), env)
    outputs = build_outputs(result, junit=shown)
    output_file = env.get("GITHUB_OUTPUT")
    if output_file:
        _note(problems, append_text(Path(output_file), format_outputs(outputs)))
    else:
        target = directory / "outputs.json"
        text = json.dumps(outputs, indent=2, ensure_ascii=False) + "\n"
        if not _note(problems, write_text(target, text)):
            written.append(target)

    summary_file = env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        budget = summary_budget(Path(summary_file))
        markdown = render_summary(result, max_bytes=budget)
        _note(problems, append_text(Path(summary_file), markdown))
    else:
        target = directory / "summary.md"
        if not _note(problems, write_text(target, render_summary(result))):
            written.append(target)

    for problem in problems:
        warn(f"could not write the run's outputs or summary: {problem}")
    commands.flush()  # the annotations held back during the run, now that it is over
    give_to_workspace_owner(written, env)
    return written


def destinations(
    result: RunResult,
    written: Iterable[Path],
    env: Mapping[str, str],
    *,
    junit: Path | None = None,
) -> list[str]:
    """Where the run's summary, outputs, audit record and (when asked for) JUnit report
    went, one line each: what the console ends with, so nobody has to guess which folder
    to open."""
    listed = list(written)
    files = {path.name: path for path in listed if path != junit}

    def place(name: str, runner_file: str, on_actions: str) -> str:
        if env.get(runner_file):
            return on_actions
        path = files.get(name)
        return str(path) if path is not None else "not written (see the warning or error above)"

    if result.audit_log:
        audit = result.audit_log + (
            f" (record hash {result.audit_hash})" if result.audit_hash else ""
        )
    else:
        audit = "not written to any file (the record is in the log above)"
    lines = [
        "summary: " + place("summary.md", "GITHUB_STEP_SUMMARY", "this job's step summary"),
        "outputs: "
        + place("outputs.json", "GITHUB_OUTPUT", "this step's outputs (steps.<id>.outputs)"),
        "audit log: " + audit,
    ]
    if result.predictions_file is not None:
        lines.append("predictions: " + result.predictions_file.path)
    if junit is not None:
        shown = workspace_relative(str(junit), env) if junit in listed else None
        lines.append("junit: " + (shown or "not written (see the warning above)"))
    return lines


def _note(problems: list[str], problem: str | None) -> bool:
    if problem:
        problems.append(problem)
        return True
    return False

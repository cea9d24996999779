"""Issue 14 item 7: nothing foreign reaches stdout or stderr able to act as a runner
command, read by the runner's own rules (tests/github/runner_commands.py)."""

from __future__ import annotations

import io
import logging
import re

import pytest
from runner_commands import REGISTERED, Runner, parse, read_lines

from ci_trainer.github import Commands, GithubReporter
from ci_trainer.http.client import HttpClient
from ci_trainer.progress import ConsoleReporter
from ci_trainer.redact import Redactor, neutralise_commands, one_line
from ci_trainer.result import Message

MARK = "FOREIGN-3b8"
# Each piece carries MARK, also those a CR or LF puts on a line of their own.
FORGERIES = [
    f"::set-output name=decision::promoted {MARK}",
    f"::add-mask::{MARK}",
    f"::ADD-MASK::{MARK}",
    f"##[error]{MARK} legacy",
    f"{MARK} in the middle ##[set-output name=x]y",
    f"  \t::error::{MARK} indented",
    f"\u3000::warning::{MARK} ideographic space",
    f"\u00a0\u2003::notice::{MARK} no-break and em spaces",
    f"{MARK} a\r::set-output name=x::{MARK}",
    f"{MARK} b\r\n  ::add-mask::{MARK}",
    f"{MARK} c\n##[group]{MARK}",
    f"\x00::debug::{MARK} after a NUL",
    f"\u200b::echo::on {MARK} after a zero-width space",
    f"#\u200b#[error]{MARK} split legacy",
    f"::stop-commands::{MARK}",
    f"::{MARK}::",
]


def commands_in(output: str) -> list[str]:
    """Lines carrying foreign text that the runner would take as a command on their own
    (no stop-commands around them), other than the data of our annotations and groups.
    A command named MARK counts too: it would end a pause the forgery started."""
    found = []
    for line in read_lines(output):
        if MARK not in line:
            continue
        command = parse(line, REGISTERED | {MARK.lower()})
        ours = command is not None and command.name in ("error", "warning", "notice", "group")
        if (command is not None and not (ours and line.startswith(f"::{command.name}"))) or (
            "##[" in line
        ):
            found.append(line)
    return found


def test_the_model_reads_every_forgery_as_a_command() -> None:
    """Without neutralising, each forgery is a command: the checks below can fail."""
    for forgery in FORGERIES:
        assert commands_in(forgery), forgery


@pytest.mark.parametrize("forgery", FORGERIES)
def test_log_lines_are_never_commands(forgery: str) -> None:
    commands = Commands(io.StringIO())
    commands.echo(f"the service said: {forgery}")
    commands.echo(forgery)
    output = commands._stream.getvalue()  # type: ignore[attr-defined]
    assert commands_in(output) == []
    runner = Runner()
    names = {command.name for command in runner.feed(output)}
    assert names <= {"stop-commands"} | {n for n in names if n.startswith("ci-trainer-")}
    assert not runner.stopped


def test_annotations_and_their_overflow_carry_no_command() -> None:
    stream = io.StringIO()
    commands = Commands(stream)
    for forgery in FORGERIES:  # more than 10: the rest go to the log
        commands.error(forgery, title=forgery)
    commands.flush()
    output = stream.getvalue()
    assert commands_in(output) == []
    processed = Runner().feed(output)
    errors = [command for command in processed if command.name == "error"]
    assert len(errors) == 10
    assert {command.name for command in processed} <= {"error", "stop-commands"} | {
        command.name for command in processed if command.name.startswith("ci-trainer-")
    }
    # the data is the service's text (but `##[`), shown in the annotation
    assert errors[0].data == FORGERIES[0]


def test_a_block_of_foreign_text_is_framed_by_a_fresh_stop_token() -> None:
    stream = io.StringIO()
    commands = Commands(stream)
    text = "\n".join(FORGERIES)
    commands.verbatim(text)
    commands.verbatim(text)
    lines = stream.getvalue().splitlines()
    starts = [line for line in lines if line.startswith("::stop-commands::")]
    tokens = [line.removeprefix("::stop-commands::") for line in starts]
    assert len(set(tokens)) == 2
    assert all(re.fullmatch(r"ci-trainer-[0-9a-f]{32}", token) for token in tokens)
    assert lines[-1] == f"::{tokens[1]}::"
    runner = Runner()
    assert [c.name for c in runner.feed(stream.getvalue())] == [
        "stop-commands",
        tokens[0],
        "stop-commands",
        tokens[1],
    ]


def test_a_stop_token_is_never_one_the_text_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = iter(["a" * 32, "b" * 32])
    monkeypatch.setattr("ci_trainer.github.secrets.token_hex", lambda _n: next(chosen))
    stream = io.StringIO()
    Commands(stream).verbatim(f"guess: ::CI-TRAINER-{'A' * 32}::")
    assert stream.getvalue().splitlines()[0] == f"::stop-commands::ci-trainer-{'b' * 32}"


def test_the_github_reporter_neutralises_info_and_messages() -> None:
    stream = io.StringIO()
    reporter = GithubReporter(Commands(stream))
    with reporter.stage(f"stage {MARK} ##[error]x"):
        for forgery in FORGERIES:
            reporter.info(forgery)
            reporter.message(Message(level="warning", text=forgery, title=forgery))
    reporter.close()
    assert commands_in(stream.getvalue()) == []
    runner = Runner()
    runner.feed(stream.getvalue())
    assert not runner.stopped


def test_the_console_reporter_neutralises_every_line() -> None:
    stream = io.StringIO()
    reporter = ConsoleReporter(stream)
    with reporter.stage(f"stage {MARK}"):
        for forgery in FORGERIES:
            reporter.info(forgery)
            reporter.message(Message(level="error", text=forgery, file="a.yaml", line=1))
    output = stream.getvalue()
    assert commands_in(output) == []
    assert [c for c in Runner().feed(output)] == []


@pytest.mark.parametrize("forgery", FORGERIES)
def test_the_final_line_is_one_line_and_no_command(forgery: str) -> None:
    line = one_line(forgery)
    assert read_lines(line) == [line]
    assert commands_in(line) == []


def test_retry_notices_are_neutralised(caplog: pytest.LogCaptureFixture) -> None:
    client = HttpClient("http://127.0.0.1:9", redactor=Redactor())
    with caplog.at_level(logging.WARNING, logger="ci_trainer.http"):
        for forgery in FORGERIES:
            client._log(forgery)
    output = "\n".join(record.getMessage() for record in caplog.records)
    assert output.count(MARK) >= len(FORGERIES)
    assert commands_in(output) == []


def test_reporters_redact_every_form_they_are_handed() -> None:
    stream = io.StringIO()
    reporter = ConsoleReporter(stream)
    redactor = Redactor(on_new=reporter.secret)
    redactor.add("s3cr/et+value")
    reporter.info("echo: s3cr%2Fet%2Bvalue and s3cr/et+value")
    assert stream.getvalue() == "echo: *** and ***\n"


def test_neutralising_keeps_ordinary_text() -> None:
    text = "a: b\n  indented :: not leading\nurl http://x/#[anchor]"
    assert neutralise_commands(text) == text

"""Workflow commands, line for line, as the runner reads them."""

from __future__ import annotations

import io

import pytest

from ci_trainer.annotations import escape_data, escape_property
from ci_trainer.github import Commands, GithubReporter
from ci_trainer.result import Message


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def make() -> tuple[Commands, io.StringIO]:
    stream = io.StringIO()
    return Commands(stream), stream


def test_data_escapes_percent_cr_lf_in_that_order() -> None:
    assert escape_data("100% done\r\nnext %0A") == "100%25 done%0D%0Anext %250A"


def test_properties_also_escape_colon_and_comma() -> None:
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_annotation_with_location_and_title() -> None:
    commands, stream = make()
    commands.error("bad value\nsecond line", file="cfg, v2.yaml", line=12, col=3, title="x: y")
    assert lines(stream) == [
        "::error file=cfg%2C v2.yaml,line=12,col=3,title=x%3A y::bad value%0Asecond line"
    ]


def test_annotation_without_properties_and_empty_ones_left_out() -> None:
    commands, stream = make()
    commands.notice("hello", file=None, title="")
    commands.warning("careful")
    assert lines(stream) == ["::notice::hello", "::warning::careful"]


def test_unknown_kind_is_a_programming_error() -> None:
    commands, _ = make()
    with pytest.raises(ValueError, match="unknown annotation kind"):
        commands.annotate("fatal", "x")


def test_mask_is_escaped_and_multiline_secrets_mask_each_line() -> None:
    commands, stream = make()
    commands.add_mask("s3cr%t")
    commands.add_mask("line-one\nline-two")
    commands.add_mask("")
    assert lines(stream) == [
        "::add-mask::s3cr%25t",
        "::add-mask::line-one%0Aline-two",
        "::add-mask::line-one",
        "::add-mask::line-two",
    ]


def test_group_is_closed_even_when_the_body_raises() -> None:
    commands, stream = make()
    with pytest.raises(RuntimeError), commands.group("Train"):
        commands.echo("inside")
        raise RuntimeError
    assert lines(stream) == ["::group::Train", "inside", "::endgroup::"]


def test_plain_text_cannot_inject_a_command() -> None:
    commands, stream = make()
    commands.echo("server said:\n::add-mask::x\n  ::set-output name=decision::promoted\n##[error]x")
    printed = lines(stream)
    # a leading space would not do: the runner trims it before looking for `::`
    assert printed[1:5] == [
        "server said:",
        "> ::add-mask::x",
        ">   ::set-output name=decision::promoted",
        "## [error]x",
    ]
    assert printed[0] == f"::stop-commands::{printed[-1][2:-2]}"


def test_a_plain_line_is_printed_as_it_is() -> None:
    commands, stream = make()
    commands.echo("training trn-1 started: 10 % done, a::b")
    assert lines(stream) == ["training trn-1 started: 10 % done, a::b"]


def test_ten_annotations_of_a_kind_are_all_shown() -> None:
    commands, stream = make()
    for index in range(10):
        commands.warning(f"w{index}")
    commands.flush()
    shown = [line for line in lines(stream) if line.startswith("::warning")]
    assert shown == [f"::warning::w{index}" for index in range(10)]


def test_overflow_is_summarised_in_the_tenth_slot_and_logged_in_full() -> None:
    commands, stream = make()
    for index in range(14):
        commands.error(f"e{index}", file="training-config.yaml", line=index + 1)
    commands.notice("n0")
    commands.flush()
    printed = lines(stream)
    errors = [line for line in printed if line.startswith("::error")]
    assert len(errors) == 10
    assert errors[:9] == [f"::error file=training-config.yaml,line={i + 1}::e{i}" for i in range(9)]
    assert errors[9] == (
        "::error title=5 more errors::5 more errors: see the step summary "
        "(each is also in this step's log)"
    )
    # the five that did not fit are still in the log, with their location
    for index in range(9, 14):
        assert f"error: training-config.yaml:{index + 1}: e{index}" in printed
    assert "::notice::n0" in printed


def test_kinds_are_limited_separately() -> None:
    commands, stream = make()
    for index in range(12):
        commands.warning(f"w{index}")
        commands.notice(f"n{index}")
    commands.flush()
    printed = lines(stream)
    assert sum(line.startswith("::warning") for line in printed) == 10
    assert sum(line.startswith("::notice") for line in printed) == 10


def test_flush_twice_does_not_repeat() -> None:
    commands, stream = make()
    for index in range(11):
        commands.error(f"e{index}")
    commands.flush()
    before = stream.getvalue()
    commands.flush()
    assert stream.getvalue() == before


class BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("EPIPE")


def test_a_broken_stream_never_raises() -> None:
    commands = Commands(BrokenStream())
    commands.error("x")
    commands.add_mask("secret-value")
    with commands.group("g"):
        commands.echo("y")


def test_reporter_maps_stage_message_and_secret() -> None:
    stream = io.StringIO()
    reporter = GithubReporter(Commands(stream))
    reporter.secret("tok-123456")
    with reporter.stage("Train"):
        reporter.info("training tr-1 started")
        reporter.message(
            Message(
                level="error",
                text="must be between 0.1 and 0.5",
                title="Invalid training config",
                file="training-config.yaml",
                line=12,
                column=21,
            )
        )
        reporter.message(Message(level="shout", text="odd level", column=4))
    printed = lines(stream)
    assert printed[0] == "::add-mask::tok-123456"
    assert printed[1] == "::group::Train"
    assert printed[2] == "training tr-1 started"
    assert printed[3] == (
        "::error file=training-config.yaml,line=12,col=21,title=Invalid training config"
        "::must be between 0.1 and 0.5"
    )
    # unknown levels become warnings; a column without a line is dropped
    assert printed[4] == "::warning::odd level"
    assert printed[5].startswith("Train: ")
    assert printed[-1] == "::endgroup::"


def test_writers_on_stdout_share_one_step_tally(capsys: pytest.CaptureFixture[str]) -> None:
    from ci_trainer import github

    github.STDOUT_TALLY.held["error"].append("::error::stale, from an earlier run")
    github.STDOUT_TALLY.masked.add("masked-by-an-earlier-run")
    first, second = GithubReporter().commands, Commands()
    first.add_mask("masked-by-an-earlier-run")  # a new run masks again
    for index in range(8):
        first.warning(f"a{index}")
    for index in range(4):
        second.warning(f"b{index}")
    second.flush()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "::add-mask::masked-by-an-earlier-run"
    assert sum(line.startswith("::warning") for line in out) == 10
    assert out[-1].startswith("::warning title=3 more warnings::")
    assert "stale" not in "\n".join(out)


def test_annotations_after_the_count_was_flushed_only_reach_the_log() -> None:
    commands, stream = make()
    for index in range(12):
        commands.warning(f"w{index}")
    commands.flush()
    commands.warning("late")
    commands.flush()
    printed = lines(stream)
    assert sum(line.startswith("::warning") for line in printed) == 10
    assert printed[-1] == "warning: late"

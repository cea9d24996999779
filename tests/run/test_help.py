"""Every command and argument of `ci-trainer` says what it is, and the run commands name
their defaults (issue 15 item 8)."""

from __future__ import annotations

import argparse

import pytest

from ci_trainer.cli import build_parser
from ci_trainer.config.model import AuditSection
from ci_trainer.github import DEFAULT_OUTPUT_DIR


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser by its full name, e.g. 'audit verify'."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{parser.prog.removeprefix('ci-trainer').strip()} {name}".strip()
                found[full] = sub
                found.update(_commands(sub))
    return found


COMMANDS = _commands(build_parser())


def test_the_commands_are_all_found() -> None:
    assert sorted(COMMANDS) == [
        "audit",
        "audit verify",
        "emulator",
        "explain",
        "run",
        "schema",
        "validate",
    ]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_argument_has_a_help_text(name: str) -> None:
    parser = COMMANDS[name]
    missing = [
        action.dest
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction)
        and not action.help
    ]
    assert missing == [], f"ci-trainer {name}: no help for {missing}"


@pytest.mark.parametrize("name", ["run", "validate"])
def test_run_and_validate_name_their_defaults(name: str) -> None:
    text = " ".join(COMMANDS[name].format_help().split())
    assert "(default: training-config.yaml)" in text
    assert f"(default: {DEFAULT_OUTPUT_DIR})" in text
    assert f"else {AuditSection().path} next to the config" in text


def test_emulator_host_and_port_say_what_they_are() -> None:
    text = " ".join(COMMANDS["emulator"].format_help().split())
    assert "--host HOST address to listen on (default: 127.0.0.1)" in text
    assert "--port PORT port to listen on; 0 picks a free one (default: 8080)" in text


def test_schema_and_audit_verify_explain_their_argument() -> None:
    schema = " ".join(COMMANDS["schema"].format_help().split())
    assert "audit: one audit log record (default: config)" in schema
    verify = " ".join(COMMANDS["audit verify"].format_help().split())
    assert "PATH the audit log file (JSON Lines) to check" in verify


def test_explain_says_what_base_and_config_are_for() -> None:
    text = " ".join(COMMANDS["explain"].format_help().split())
    assert "--base REF also show the data diff against the merge base of HEAD and REF" in text
    assert "default: no data diff)" in text
    assert "--config PATH with --base: the training config" in text
    assert "(default: training-config.yaml)" in text

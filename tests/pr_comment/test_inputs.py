"""The comment and github-token inputs: a strict boolean, a token masked before anything
prints and registered with the run's redactor."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ci_trainer import settings
from ci_trainer.errors import ConfigError
from ci_trainer.progress import ConsoleReporter
from ci_trainer.redact import Redactor

from .fake_github import TOKEN


def test_comment_is_off_unless_asked_and_the_token_is_read() -> None:
    assert settings.parse_inputs({}).comment is False
    inputs = settings.parse_inputs({"INPUT_COMMENT": "True", "INPUT_GITHUB-TOKEN": f" {TOKEN} "})
    assert inputs.comment is True
    assert inputs.github_token == TOKEN
    assert TOKEN not in repr(inputs)


def test_a_comment_that_is_not_true_or_false_is_an_input_error() -> None:
    with pytest.raises(ConfigError) as caught:
        settings.parse_inputs({"INPUT_COMMENT": "yes", "INPUT_MODE": "ship"})
    assert [issue.field for issue in caught.value.issues] == ["mode", "comment"]
    assert caught.value.issues[1].message == "must be true or false, got 'yes'"


def test_the_token_is_a_secret_value_in_both_spellings() -> None:
    assert settings.secret_values({"INPUT_GITHUB-TOKEN": TOKEN}) == [TOKEN]
    assert settings.secret_values({"INPUT_GITHUB_TOKEN": TOKEN}) == [TOKEN]
    assert (
        Redactor(settings.secret_values({"INPUT_GITHUB-TOKEN": TOKEN}))(
            f"Authorization: Bearer {TOKEN}"
        )
        == "Authorization: Bearer ***"
    )


def test_the_run_redacts_the_token_wherever_it_would_print(tmp_path: Path) -> None:
    """The lifecycle's redactor holds the token too: a config error that quoted it (here
    a config path made of it) shows the mask, in the console and in the RunResult."""
    from ci_trainer.run import execute

    stream = io.StringIO()
    env = settings.run_environment({"INPUT_GITHUB-TOKEN": TOKEN})
    config = tmp_path / f"{TOKEN}.yaml"
    result = execute(settings.Settings.from_env(env, config_path=config), ConsoleReporter(stream))
    assert result.decision.value == "invalid"
    assert TOKEN not in stream.getvalue()
    assert TOKEN not in result.model_dump_json()
    assert "***" in result.model_dump_json()

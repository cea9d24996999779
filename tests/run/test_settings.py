"""Settings.from_env: the fixed env names, blanks, modes, provenance, no secret in repr;
and each backend's credentials rule, asked through the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_trainer.backends import plugin
from ci_trainer.result import Mode
from ci_trainer.settings import Settings, parse_mode


def missing(settings: Settings, backend: str = "cognigy-v1") -> list[str]:
    return plugin(backend).missing_credentials(settings)


ENV = {
    "COGNIGY_TENANT": "acme",
    "COGNIGY_CLIENT_ID": "client-1",
    "COGNIGY_CLIENT_SECRET": "s3cr3t-value-xyz",
    "COGNIGY_MODEL_ID": " model-9 ",
    "GITHUB_REPOSITORY": "acme/bot",
    "GITHUB_SHA": "abc123",
    "GITHUB_RUN_ID": "42",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_EVENT_NAME": "pull_request",
}


def test_reads_the_design_names_and_trims() -> None:
    settings = Settings.from_env(ENV, config_path="cfg.yaml", mode="promote", audit_log="a.log")
    assert settings.config_path == Path("cfg.yaml")
    assert settings.mode is Mode.PROMOTE
    assert settings.tenant == "acme"
    assert settings.model_id == "model-9"
    assert settings.audit_log == Path("a.log")
    assert missing(settings) == []
    assert settings.provenance.repository == "acme/bot"
    assert settings.provenance.run_attempt == "2"
    assert settings.provenance.event == "pull_request"


def test_blank_values_count_as_missing() -> None:
    settings = Settings.from_env({**ENV, "COGNIGY_CLIENT_SECRET": "  "})
    assert settings.client_secret is None
    assert missing(settings) == ["COGNIGY_CLIENT_SECRET"]


def test_credentials_need_a_tenant_or_base_url() -> None:
    env = {k: v for k, v in ENV.items() if k != "COGNIGY_TENANT"}
    assert missing(Settings.from_env(env)) == ["COGNIGY_TENANT or COGNIGY_BASE_URL"]
    assert missing(Settings.from_env(env | {"COGNIGY_BASE_URL": "http://127.0.0.1:1/api/v1"})) == []


def test_missing_credentials_name_the_variables_to_set() -> None:
    assert missing(Settings.from_env(ENV)) == []
    # A blank (whitespace) secret is missing too, and the notice must still name it.
    blank = Settings.from_env({**ENV, "COGNIGY_CLIENT_SECRET": "  ", "COGNIGY_TENANT": ""})
    assert missing(blank) == [
        "COGNIGY_CLIENT_SECRET",
        "COGNIGY_TENANT or COGNIGY_BASE_URL",
    ]
    # cognigy-v2: an API key, or OAuth2 client credentials (ENV has those).
    assert missing(Settings.from_env(ENV), "cognigy-v2") == []
    assert missing(Settings.from_env({"COGNIGY_API_KEY": "k-1"}), "cognigy-v2") == []
    assert missing(Settings.from_env({}), "cognigy-v2") == [
        "COGNIGY_API_KEY (or COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET)"
    ]


def test_the_secret_is_not_in_the_repr() -> None:
    assert "s3cr3t-value-xyz" not in repr(Settings.from_env(ENV))


@pytest.mark.parametrize(("text", "mode"), [("train", Mode.TRAIN), (" Promote ", Mode.PROMOTE)])
def test_modes_are_parsed_leniently_in_case_only(text: str, mode: Mode) -> None:
    assert parse_mode(text) is mode


def test_an_unknown_mode_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="validate, train, promote"):
        Settings.from_env({}, mode="deploy")

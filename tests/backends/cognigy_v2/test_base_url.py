"""The v2 base URL as users paste it (issue 13 item 3, contract C2) and ids as the API's
path patterns have them (C14), against the v2 emulator over real HTTP.

Accepted: `<host>`, `<host>/new/v2.0`, `<host>/v2.0`, `<host>/openapi` (the docs' "API
Base URL": stripped, with one notice). Anything else with a path is refused, naming the
input (COGNIGY_BASE_URL, or cognigy_v2.base_url at its line) and the accepted forms.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import requests
import yaml

from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.config import load_config
from ci_trainer.decision import Decision
from ci_trainer.errors import ConfigError
from ci_trainer.http.base_url import BaseUrlError
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.redact import Redactor
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .conftest import FAST, PROJECT, SAMPLE_API_KEY

API_KEY = SAMPLE_API_KEY  # the key the sample emulator (conftest) accepts
FORMS = "<host>, <host>/new/v2.0, <host>/v2.0 or <host>/openapi"


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("", "/new/v2.0"),
        ("/", "/new/v2.0"),
        ("/new/v2.0", "/new/v2.0"),
        ("/new/v2.0/", "/new/v2.0"),
        ("/v2.0", "/v2.0"),
        ("/v2.0/", "/v2.0"),
    ],
)
def test_each_accepted_form_reaches_the_api(emu: V2Emulator, path: str, prefix: str) -> None:
    with CognigyV2Client(emu.base_url + path, emu.api_key, redactor=Redactor(), policy=FAST) as api:
        assert api.prefix == prefix
        assert api.http.base_url.rstrip("/") == emu.base_url
        assert api.read_project(PROJECT)["_id"] == PROJECT
        assert api.notices == []  # nothing to correct


@pytest.mark.parametrize("path", ["/openapi", "/openapi/"])
def test_the_openapi_page_is_stripped_with_a_notice(emu: V2Emulator, path: str) -> None:
    with CognigyV2Client(emu.base_url + path, emu.api_key, redactor=Redactor(), policy=FAST) as api:
        assert api.read_project(PROJECT)["_id"] == PROJECT
        (notice,) = api.notices
    assert emu.app.calls(f"/new/v2.0/projects/{PROJECT}")  # not /openapi/new/v2.0/...
    assert "COGNIGY_BASE_URL" in notice and "/openapi" in notice
    assert f"using {emu.base_url}" in notice


def test_openapi_is_not_a_route_of_the_emulator(emu: V2Emulator) -> None:
    """As on a tenant, /openapi is the reference page, not a path prefix: a client that
    kept it would get 404s, which is why the client strips it."""
    answer = requests.get(
        f"{emu.base_url}/openapi/new/v2.0/projects/{PROJECT}",
        headers={"X-API-Key": emu.api_key, "Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/new",  # the OpenAPI servers URL without the version
        "/api/v1",  # the v1 tutorial's path
        "/v1.0",
        "/openapi/new/v2.0",
        "/new/v2.0/projects",
        "/cognigy",
    ],
)
def test_any_other_path_is_refused_naming_the_input_and_the_forms(path: str) -> None:
    url = "https://api-trial.cognigy.ai" + path
    with pytest.raises(BaseUrlError) as raised:
        CognigyV2Client(url, "some-api-key-1234", redactor=Redactor())
    error = raised.value
    assert error.message.startswith(f"COGNIGY_BASE_URL {url!r} has the path")
    assert FORMS in (error.hint or "")


def test_a_refused_path_names_the_config_field_when_it_came_from_there() -> None:
    with pytest.raises(BaseUrlError) as raised:
        CognigyV2Client(
            "https://api-trial.cognigy.ai/api",
            "some-api-key-1234",
            redactor=Redactor(),
            base_url_setting="cognigy_v2.base_url",
        )
    assert raised.value.message.startswith("cognigy_v2.base_url ")


# ------------------------------------------------------------------ whole runs

FAST_HTTP = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture
def project(tmp_path: Path, repo_root: Path) -> Path:
    target = tmp_path / "cognigy-v2"
    shutil.copytree(repo_root / "examples/cognigy-v2", target)
    return target / "training-config.yaml"


def _set_base_url(config: Path, url: str) -> int:
    """Write `url` as cognigy_v2.base_url; its line number."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["cognigy_v2"]["base_url"] = url
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    lines = config.read_text(encoding="utf-8").splitlines()
    return next(n for n, row in enumerate(lines, 1) if row.strip().startswith("base_url:"))


def _run(config: Path, **env: str) -> RunResult:
    settings = Settings.from_env(
        {"COGNIGY_API_KEY": API_KEY, **env}, config_path=config, mode=Mode.VALIDATE
    )
    return execute(settings, ConsoleReporter(), stop=threading.Event(), retry_policy=FAST_HTTP)


def test_a_run_with_the_docs_api_base_url_says_so_once(
    project: Path, sample_emu: V2Emulator
) -> None:
    _set_base_url(project, sample_emu.base_url + "/openapi")
    result = _run(project)
    assert result.decision is Decision.VALIDATED, (result.reason, result.error)
    notices = [m for m in result.messages if "/openapi" in m.text]
    assert len(notices) == 1
    assert notices[0].level == "notice"
    assert notices[0].text.startswith(f"cognigy_v2.base_url {sample_emu.base_url}/openapi")
    assert sample_emu.app.calls("/new/v2.0/projects/64a1f0c2e4b0a1b2c3d4e5f6")  # reached


def test_a_run_with_the_openapi_url_in_the_environment_names_the_variable(
    project: Path, sample_emu: V2Emulator
) -> None:
    result = _run(project, COGNIGY_BASE_URL=sample_emu.base_url + "/openapi/")
    assert result.decision is Decision.VALIDATED, (result.reason, result.error)
    (notice,) = [m for m in result.messages if "/openapi" in m.text]
    assert notice.text.startswith("COGNIGY_BASE_URL (action input base-url)")


def test_a_wrong_path_in_the_config_is_invalid_at_its_line(project: Path) -> None:
    line = _set_base_url(project, "https://api-trial.cognigy.ai/api/v1")
    result = _run(project)
    assert result.decision is Decision.INVALID and result.exit_code == 2
    reason = result.reasons[0]
    assert reason.startswith(f"{project}:{line}:")
    assert "cognigy_v2.base_url" in reason and "'/api/v1'" in reason
    assert FORMS in reason


def test_a_wrong_path_in_the_environment_is_invalid_naming_the_variable(project: Path) -> None:
    result = _run(project, COGNIGY_BASE_URL="https://api-trial.cognigy.ai/new")
    assert result.decision is Decision.INVALID and result.exit_code == 2
    assert "COGNIGY_BASE_URL (action input base-url) 'https://api-trial.cognigy.ai/new'" in (
        result.reason
    )
    assert FORMS in result.reason


# ------------------------------------------------------------------ ids (C14)


def test_the_sample_configs_ids_fit_the_pattern(repo_root: Path) -> None:
    section = load_config(repo_root / "examples/cognigy-v2/training-config.yaml").config.cognigy_v2
    assert section is not None and section.project_id == "64a1f0c2e4b0a1b2c3d4e5f6"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (("project_id",), "64A1F0C2E4B0A1B2C3D4E5F6"),  # upper case
        (("targets", 0, "flow_id"), "64a1f0c2e4b0a1b2c3d4e60"),  # 23 characters
        (("targets", 0, "locales", 1), "64a1f0c2-e4b0-a1b2c3d4e7"),
        (("promotion", "target_project_id"), "../64a1f0c2e4b0a1b2c3d4e5"),
        (("promotion", "endpoint_id"), "64a1f0c2e4b0a1b2c3d4e8010"),  # 25 characters
    ],
)
def test_a_bad_id_is_refused_at_its_line_naming_the_field(
    project: Path, field: tuple[str | int, ...], value: str
) -> None:
    data = yaml.safe_load(project.read_text(encoding="utf-8"))
    node = data["cognigy_v2"]
    for part in field[:-1]:
        node = node[part]
    node[field[-1]] = value  # type: ignore[index]
    project.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(project)
    (issue,) = raised.value.issues
    name = "cognigy_v2" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in field)
    assert issue.field == name
    assert issue.line is not None
    assert project.read_text(encoding="utf-8").splitlines()[issue.line - 1].count(value) == 1
    assert "24 lower-case letters and digits" in issue.message


def test_lower_case_letters_beyond_hex_are_ids_too(project: Path) -> None:
    data = yaml.safe_load(project.read_text(encoding="utf-8"))
    data["cognigy_v2"]["promotion"]["endpoint_id"] = "zz" * 12
    project.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    section = load_config(project).config.cognigy_v2
    assert section is not None and section.promotion.endpoint_id == "zz" * 12


def test_the_config_base_url_is_checked_when_the_config_is_read(project: Path) -> None:
    """Without credentials too (a fork's pull request, `ci-trainer validate`): the file's
    mistake is found where it is, not only once a backend is built."""
    line = _set_base_url(project, "https://api-trial.cognigy.ai/cognigy")
    with pytest.raises(ConfigError) as raised:
        load_config(project)
    (issue,) = raised.value.issues
    assert (issue.field, issue.line) == ("cognigy_v2.base_url", line)
    assert "'/cognigy'" in issue.message and FORMS in issue.message
    settings = Settings.from_env({}, config_path=project, mode=Mode.TRAIN)
    result = execute(settings, ConsoleReporter(), stop=threading.Event())
    assert result.decision is Decision.INVALID and result.exit_code == 2


def test_a_password_in_the_config_base_url_is_never_echoed(project: Path) -> None:
    _set_base_url(project, "https://ci:hunter2-pw-9c1e@api-trial.cognigy.ai")
    settings = Settings.from_env({}, config_path=project, mode=Mode.VALIDATE)
    result = execute(settings, ConsoleReporter(), stop=threading.Event())
    assert result.decision is Decision.INVALID
    assert "must not contain a user name or password" in result.reason
    assert "hunter2-pw-9c1e" not in result.model_dump_json()

"""v2 credentials as Cognigy issues them (issue 13 item 2, contract C8): an API key, or
OAuth2 client credentials exchanged at `<host>/auth/oauth2/token`, against the v2
emulator over real HTTP. Both at once is `invalid`; neither is `skipped`, naming what
is needed; no secret or token appears in anything a run writes."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from ci_trainer.backends.cognigy_v2.auth import ClientSecret, OAuth2Auth
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.cli import main
from ci_trainer.decision import Decision
from ci_trainer.errors import ApiError, AuthError, ContractError
from ci_trainer.http.client import HttpClient
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.redact import Redactor
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .conftest import FAST

PROJECT = "64a1f0c2e4b0a1b2c3d4e5f6"  # the sample config's project
API_KEY = "v2-api-key-for-the-credentials-tests-3c9d"
CLIENT_ID = "ci-trainer-test-client"
CLIENT_SECRET = "v2-client-secret-for-the-tests-8e1f0a"
FAST_HTTP = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture
def project(tmp_path: Path, repo_root: Path) -> Path:
    target = tmp_path / "cognigy-v2"
    shutil.copytree(repo_root / "examples/cognigy-v2", target)
    config = target / "training-config.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["training"]["poll_interval_floor_seconds"] = 0.1
    data["cognigy_v2"]["oauth2_scope"] = "api:read api:write"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


@pytest.fixture
def emu(project: Path) -> Iterator[V2Emulator]:
    emulator = V2Emulator.from_config(
        project, api_key=API_KEY, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, epochs=10
    )
    emulator.start()
    yield emulator
    emulator.stop()


def oauth_client(emu: V2Emulator, **kwargs: object) -> CognigyV2Client:
    return CognigyV2Client(
        emu.base_url,
        client=ClientSecret(CLIENT_ID, CLIENT_SECRET, "api:read"),
        redactor=Redactor(),
        policy=FAST,
        **kwargs,  # type: ignore[arg-type]
    )


def run(config: Path, emu: V2Emulator, mode: Mode = Mode.TRAIN, **env: str) -> RunResult:
    settings = Settings.from_env(
        {"COGNIGY_BASE_URL": emu.base_url, **env}, config_path=config, mode=mode
    )
    return execute(settings, ConsoleReporter(), stop=threading.Event(), retry_policy=FAST_HTTP)


# ------------------------------------------------------------------ the token exchange


def test_client_credentials_are_exchanged_for_a_token_the_api_accepts(emu: V2Emulator) -> None:
    with oauth_client(emu) as api:
        assert api.read_project(PROJECT)["_id"] == PROJECT
        assert len(api.list_locales(PROJECT)) == 2
    # One token for both calls (cached), asked for form-encoded with the scope.
    assert len(emu.tokens.issued) == 1
    assert emu.tokens.scopes == ["api:read"]
    (token_call,) = emu.app.calls("/auth/oauth2/token")
    assert (token_call.method, token_call.status) == ("POST", 200)
    assert token_call.content_type == "application/x-www-form-urlencoded"
    assert token_call.path == "/auth/oauth2/token"  # on the host, not under /new/v2.0


def test_requests_carry_the_token_not_an_api_key(emu: V2Emulator) -> None:
    """The emulator accepts the token as `Authorization: Bearer`; the same request with
    the token in any other header is refused, so the client's success proves the header."""
    with oauth_client(emu) as api:
        api.read_project(PROJECT)
    (token,) = emu.tokens.issued
    url = f"{emu.base_url}/new/v2.0/projects/{PROJECT}"
    accepted = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    refused = requests.get(url, headers={"X-API-Key": token}, timeout=10)
    assert (accepted.status_code, refused.status_code) == (200, 401)


def test_the_token_is_renewed_ahead_of_its_expiry(emu: V2Emulator) -> None:
    now = [1000.0]
    http = HttpClient(emu.base_url, redactor=Redactor(), policy=FAST)
    auth = OAuth2Auth(
        http, ClientSecret(CLIENT_ID, CLIENT_SECRET), redactor=Redactor(), clock=lambda: now[0]
    )
    try:
        first = auth.headers()
        now[0] += 3000  # 3600 s token: v1's rule renews 300 s early, i.e. after 3300 s
        assert auth.headers() == first
        now[0] += 301
        second = auth.headers()
    finally:
        http.close()
    assert second != first
    assert auth.issued == 2 == len(emu.tokens.issued)


def test_a_401_mid_run_re_authenticates_once_and_the_call_goes_through(
    emu: V2Emulator,
) -> None:
    with oauth_client(emu) as api:
        api.read_project(PROJECT)
        emu.tokens.revoke_all()  # e.g. an admin rotated the client's tokens
        assert api.read_project(PROJECT)["_id"] == PROJECT
    assert len(emu.tokens.issued) == 2
    statuses = [c.status for c in emu.app.calls(f"/projects/{PROJECT}")]
    assert statuses == [200, 401, 200]


def test_a_fresh_token_refused_too_is_an_auth_error_after_one_renewal(emu: V2Emulator) -> None:
    emu.app.fail_next("readProject", 401, style="oauth")
    emu.app.fail_next("readProject", 401, style="oauth")
    with oauth_client(emu) as api, pytest.raises(AuthError) as raised:
        api.read_project(PROJECT)
    assert len(emu.tokens.issued) == 2  # one renewal, no loop
    assert raised.value.status == 401
    assert "freshly issued OAuth2 token" in raised.value.message
    assert "COGNIGY_CLIENT_ID" in (raised.value.hint or "")


def test_wrong_client_credentials_name_the_variables_to_check(emu: V2Emulator) -> None:
    api = CognigyV2Client(
        emu.base_url,
        client=ClientSecret(CLIENT_ID, "not-the-secret-0000"),
        redactor=Redactor(),
        policy=FAST,
    )
    with api, pytest.raises(AuthError) as raised:
        api.read_project(PROJECT)
    assert "refused the OAuth2 client credentials" in raised.value.message
    assert raised.value.status == 401 and raised.value.title == "invalid_client"
    assert "COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET" in (raised.value.hint or "")
    assert emu.app.calls(f"/projects/{PROJECT}") == []  # no API call without a token


# ------------------------------------------------------------------ whole runs


def _everything_written(out_dir: Path, project: Path, console: str) -> str:
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    files += [project.parent / "cognigy_training_audit.log"]
    return console + "".join(p.read_text(encoding="utf-8") for p in files)


@pytest.mark.parametrize("kind", ["api-key", "oauth2"])
def test_a_run_with_either_credential_is_approved_and_writes_no_secret(
    kind: str,
    project: Path,
    emu: V2Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    for name in ("COGNIGY_API_KEY", "COGNIGY_CLIENT_ID", "COGNIGY_CLIENT_SECRET", "COGNIGY_TENANT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COGNIGY_BASE_URL", emu.base_url)
    if kind == "api-key":
        monkeypatch.setenv("COGNIGY_API_KEY", API_KEY)
    else:
        monkeypatch.setenv("COGNIGY_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("COGNIGY_CLIENT_SECRET", CLIENT_SECRET)
        # A token refused in the middle of the run (after the access check): re-auth once.
        emu.app.fail_next("trainIntents", 401, style="oauth")
    out_dir = project.parent / "out"
    code = main(["run", "--config", str(project), "--output-dir", str(out_dir)])
    console = "".join(capfd.readouterr())
    outputs = json.loads((out_dir / "outputs.json").read_text(encoding="utf-8"))
    assert code == 0, console
    assert outputs["decision"] == "approved"
    if kind == "api-key":
        assert emu.tokens.issued == [] and emu.app.calls("/auth/oauth2/token") == []
    else:
        assert len(emu.tokens.issued) == 2  # the first, and one renewal after the 401
        assert len(emu.app.calls("/intents/train")) == 4  # 3 trainings + the refused try
        assert [c.status for c in emu.app.calls("/intents/train")].count(401) == 1
        assert emu.tokens.scopes == ["api:read api:write"] * 2  # cognigy_v2.oauth2_scope
    written = _everything_written(out_dir, project, console)
    for secret in (API_KEY, CLIENT_SECRET, *emu.tokens.issued):
        assert secret not in written


def test_a_401_with_an_api_key_is_final_and_names_the_key(project: Path, emu: V2Emulator) -> None:
    emu.app.fail_next("trainIntents", 401)
    result = run(project, emu, COGNIGY_API_KEY=API_KEY)
    assert result.decision is Decision.FAILED
    assert "the API key was not accepted" in result.reason and "COGNIGY_API_KEY" in result.reason
    assert [c.status for c in emu.app.calls("/intents/train")] == [401]  # nothing to renew


def test_an_api_key_and_client_credentials_together_are_invalid(
    project: Path, emu: V2Emulator
) -> None:
    result = run(
        project,
        emu,
        COGNIGY_API_KEY=API_KEY,
        COGNIGY_CLIENT_ID=CLIENT_ID,
        COGNIGY_CLIENT_SECRET=CLIENT_SECRET,
    )
    assert result.decision is Decision.INVALID and result.exit_code == 2
    reason = result.reason
    assert "both an API key (COGNIGY_API_KEY) and OAuth2 client credentials" in reason
    assert "COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET" in reason
    assert "api-key" in reason and "client-id and client-secret" in reason  # the inputs
    assert "give one of them" in reason
    assert len(emu.app.log) == 0  # nothing sent with either credential
    assert API_KEY not in reason and CLIENT_SECRET not in reason


def test_an_api_key_and_a_client_id_alone_are_invalid_too(project: Path, emu: V2Emulator) -> None:
    result = run(project, emu, COGNIGY_API_KEY=API_KEY, COGNIGY_CLIENT_ID=CLIENT_ID)
    assert result.decision is Decision.INVALID
    assert "OAuth2 client credentials (COGNIGY_CLIENT_ID) are set" in result.reason


def test_without_any_credential_the_run_is_skipped_naming_what_is_needed(
    project: Path, emu: V2Emulator
) -> None:
    result = run(project, emu)
    assert result.decision is Decision.SKIPPED
    needed = "COGNIGY_API_KEY (or COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET) is not set"
    assert any(needed in m.text for m in result.messages), [m.text for m in result.messages]
    assert len(emu.app.log) == 0


@pytest.mark.parametrize(
    ("env", "needed"),
    [
        ({"COGNIGY_CLIENT_ID": CLIENT_ID}, "COGNIGY_CLIENT_SECRET (action input client-secret)"),
        ({"COGNIGY_CLIENT_SECRET": CLIENT_SECRET}, "COGNIGY_CLIENT_ID (action input client-id)"),
    ],
)
def test_half_an_oauth2_client_is_invalid_naming_the_other_half(
    project: Path, emu: V2Emulator, env: dict[str, str], needed: str
) -> None:
    """Not the fork case (issue 15 item 3): a misnamed secret must not give a green run."""
    result = run(project, emu, **env)
    assert result.decision is Decision.INVALID
    assert needed in result.reason
    assert CLIENT_SECRET not in result.reason
    assert len(emu.app.log) == 0


# ------------------------------------------------------------------ odd token answers


class _TokenServer(ThreadingHTTPServer):
    """A token endpoint on 127.0.0.1 that answers every POST with `answer`."""

    answer: tuple[int, bytes] = (200, b"{}")


class _TokenHandler(BaseHTTPRequestHandler):
    server: _TokenServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def token_server() -> Iterator[_TokenServer]:
    server = _TokenServer(("127.0.0.1", 0), _TokenHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


BAD_TOKEN = "tok-\r\n::warning::forged-7d3c"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"access_token": BAD_TOKEN, "token_type": "Bearer", "expires_in": 60}, "access_token"),
        # `$` would let one trailing newline through: the whole token must be visible text.
        (
            {"access_token": "tok-5e2a9c1b\n", "token_type": "Bearer", "expires_in": 60},
            "access_token",
        ),
        (
            {"access_token": "tok-5e2a9c1b", "token_type": "Bearer\n", "expires_in": 60},
            "token_type",
        ),
        (
            {"access_token": "tok-5e2a9c1b", "token_type": "Bearer x", "expires_in": 60},
            "token_type",
        ),
        ({"access_token": "tok-5e2a9c1b", "token_type": "Bearer"}, "expires_in"),
        ({"access_token": "tok-5e2a9c1b", "expires_in": -1}, "expires_in"),
    ],
)
def test_an_unusable_token_answer_is_refused_naming_the_field_never_the_token(
    token_server: _TokenServer, body: dict[str, object], field: str
) -> None:
    token_server.answer = (200, json.dumps(body).encode())
    redactor = Redactor()
    api = CognigyV2Client(
        f"http://127.0.0.1:{token_server.server_address[1]}",
        client=ClientSecret(CLIENT_ID, CLIENT_SECRET),
        redactor=redactor,
        policy=FAST,
    )
    with api, pytest.raises(ContractError) as raised:
        api.read_project(PROJECT)
    text = str(raised.value)
    assert f"the OAuth2 token answer is not usable: {field}" in text
    assert str(body["access_token"]) in redactor.values  # masked even when refused
    assert BAD_TOKEN not in text and "forged" not in text


def test_an_installation_without_the_token_endpoint_says_to_use_an_api_key(
    token_server: _TokenServer,
) -> None:
    token_server.answer = (404, b'{"detail": "no route"}')
    api = CognigyV2Client(
        f"http://127.0.0.1:{token_server.server_address[1]}",
        client=ClientSecret(CLIENT_ID, CLIENT_SECRET),
        redactor=Redactor(),
        policy=FAST,
    )
    with api, pytest.raises(ApiError) as raised:
        api.read_project(PROJECT)
    assert "no OAuth2 token endpoint (/auth/oauth2/token)" in raised.value.message
    assert "COGNIGY_API_KEY" in (raised.value.hint or "")


def test_the_emulator_issues_expiring_tokens_and_refuses_other_grants(project: Path) -> None:
    with V2Emulator.from_config(
        project, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_seconds=0.3
    ) as emulator:
        url = f"{emulator.base_url}/auth/oauth2/token"
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID}
        answer = requests.post(url, data={**form, "client_secret": CLIENT_SECRET}, timeout=10)
        assert answer.status_code == 200
        body = answer.json()
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 0.3)
        project_url = f"{emulator.base_url}/new/v2.0/projects/{PROJECT}"
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        assert requests.get(project_url, headers=bearer, timeout=10).status_code == 200
        time.sleep(0.4)
        expired = requests.get(project_url, headers=bearer, timeout=10)
        assert (expired.status_code, expired.json()["error"]) == (401, "invalid_token")
        wrong = requests.post(url, data={**form, "client_secret": "wrong-secret"}, timeout=10)
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        grant = requests.post(url, data={**form, "grant_type": "password"}, timeout=10)
        assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
        as_json = requests.post(url, json={**form, "client_secret": CLIENT_SECRET}, timeout=10)
        assert as_json.status_code == 400  # the endpoint takes a form, as RFC 6749 says


def test_short_lived_tokens_are_renewed_before_they_expire_in_a_whole_run(project: Path) -> None:
    """Tokens of 2.5 s over a run of several seconds: renewed ahead of expiry (10 % of
    the lifetime early), so no request is ever refused as expired."""
    with V2Emulator.from_config(
        project,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_seconds=2.5,
        task_seconds=1.0,  # every Task waits 1 s: the run outlives its first token
        epochs=10,
    ) as emulator:
        result = run(
            project, emulator, COGNIGY_CLIENT_ID=CLIENT_ID, COGNIGY_CLIENT_SECRET=CLIENT_SECRET
        )
        statuses = [record.status for record in emulator.app.log]
        issued = emulator.tokens.issued
    assert result.decision is Decision.APPROVED, (result.reason, result.error)
    assert len(issued) >= 2, len(issued)
    assert 401 not in statuses

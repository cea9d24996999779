"""The CLI's early token request: used once when it fits, dropped silently when not."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_trainer import startup
from ci_trainer.backends import DEFAULT_BACKEND
from ci_trainer.backends.cognigy_v1 import token_prefetch
from ci_trainer.backends.cognigy_v1.auth import REQUIRED_SCOPES
from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.backends.cognigy_v1.token_prefetch import PrefetchedAnswer, PrefetchKey
from ci_trainer.cli import main
from ci_trainer.emulator.faults import Fault
from ci_trainer.http.base_url import BaseUrlError, resolve_base_url
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.redact import Redactor

from .conftest import Harness


@pytest.fixture(autouse=True)
def _no_leftover_prefetch() -> Iterator[None]:
    token_prefetch.discard()
    yield
    token_prefetch.discard()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "INPUT_")):
            monkeypatch.delenv(name)


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> list[PrefetchedAnswer | None]:
    """What each `claim` handed to the auth object (the real claim, recorded)."""
    seen: list[PrefetchedAnswer | None] = []
    real = token_prefetch.claim

    def recording(key: PrefetchKey) -> PrefetchedAnswer | None:
        answer = real(key)
        seen.append(answer)
        return answer

    monkeypatch.setattr(token_prefetch, "claim", recording)
    return seen


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[PrefetchKey]:
    """The keys of the prefetches the CLI started (the real start, recorded)."""
    keys: list[PrefetchKey] = []
    real = token_prefetch.start

    def recording(key: PrefetchKey) -> token_prefetch.TokenPrefetch:
        keys.append(key)
        return real(key)

    monkeypatch.setattr(token_prefetch, "start", recording)
    return keys


def run_cli(
    harness: Harness, emu: Emulator, config: Path, monkeypatch: pytest.MonkeyPatch, **env: str
) -> int:
    for name, value in harness.env(emu, **env).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(harness.tmp_path)
    return main(["run", "--config", str(config), "--output-dir", "out"])


def without_ids(text: str) -> str:
    """The text with the service's per-request trace ids blanked out."""
    return re.sub(r"[0-9a-f]{8,}", "<id>", text)


def decision(harness: Harness) -> str:
    outputs = json.loads((harness.tmp_path / "out" / "outputs.json").read_text("utf-8"))
    return str(outputs["decision"])


def test_a_run_uses_the_prefetched_token_and_asks_for_one_token_only(
    harness: Harness,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    claims: list[PrefetchedAnswer | None],
) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    assert run_cli(harness, emu, config, monkeypatch) == 0, harness.output()[1]
    assert decision(harness) == "approved"
    assert [r.status for r in emu.state.requests_for("getToken")] == [200]
    assert len(claims) == 1
    assert claims[0] is not None
    assert emu.issued_tokens()[0].encode() in claims[0].content


def test_a_failed_prefetch_falls_back_to_the_normal_token_request(
    harness: Harness,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    claims: list[PrefetchedAnswer | None],
    started: list[PrefetchKey],
) -> None:
    config = harness.project()
    emu = harness.emulator(
        config, Fault(operation="getToken", kind="status", status=503, calls=(1,))
    )
    assert run_cli(harness, emu, config, monkeypatch) == 0, harness.output()[1]
    assert decision(harness) == "approved"
    # The prefetch's 503 was dropped, not retried by it; the client asked once more.
    assert [r.status for r in emu.state.requests_for("getToken")] == [503, 200]
    assert [key.client_id for key in started] == [emu.client_id]
    assert claims == [None]


def test_a_prefetched_answer_that_fails_the_contract_is_dropped_and_asked_again(
    harness: Harness,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    claims: list[PrefetchedAnswer | None],
) -> None:
    config = harness.project()
    fault = Fault(operation="getToken", kind="missing_field", field="expires_in", calls=(1,))
    emu = harness.emulator(config, fault)
    assert run_cli(harness, emu, config, monkeypatch) == 0, harness.output()[1]
    assert decision(harness) == "approved"
    # The 200 without expires_in reached the client, which then fetched a valid token.
    assert [r.status for r in emu.state.requests_for("getToken")] == [200, 200]
    assert len(claims) == 1
    assert claims[0] is not None
    assert b"expires_in" not in claims[0].content


def test_refused_credentials_give_the_same_error_with_and_without_the_prefetch(
    harness: Harness, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    wrong = "wrong-secret-that-must-not-print-5678"
    harness.guard.secret(wrong)
    without = harness.run(config, emu, env={"COGNIGY_CLIENT_SECRET": wrong})
    assert run_cli(harness, emu, config, monkeypatch, COGNIGY_CLIENT_SECRET=wrong) == 3
    last_line = harness.output()[0].strip().splitlines()[-1]
    expected = f"ci-trainer: {without.decision.value} - {without.reason}"
    assert without_ids(last_line) == without_ids(expected)
    # Prefetch 401, then the normal path's own 401; neither printed the secret (guard).
    assert [r.status for r in emu.state.requests_for("getToken")] == [401, 401, 401]


def test_a_prefetched_token_is_announced_for_masking_and_its_scopes_are_kept(
    harness: Harness, clean_env: None
) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    key = token_prefetch.key_from_env(harness.env(emu))
    assert key is not None
    token_prefetch.start(key)
    masked: list[str] = []
    with TrainingClient(
        emu.base_url, emu.client_id, emu.client_secret, redactor=Redactor(on_new=masked.append)
    ) as client:
        token = client.token()
        assert token.access_token in masked
        assert token.scopes == frozenset(REQUIRED_SCOPES)
        assert client.auth.missing_scopes() == []
    assert emu.state.tokens_issued == 1


def test_a_prefetch_for_other_credentials_is_not_used(harness: Harness, clean_env: None) -> None:
    config = harness.project()
    emu = harness.emulator(config)
    key = token_prefetch.key_from_env(harness.env(emu, COGNIGY_CLIENT_ID="someone-else"))
    assert key is not None
    token_prefetch.start(key).answer()
    with TrainingClient(
        emu.base_url, emu.client_id, emu.client_secret, redactor=Redactor()
    ) as client:
        client.token()
    # The unknown client's prefetch was refused; this client asked for its own token.
    assert [r.client_id for r in emu.state.requests_for("getToken")] == [
        "someone-else",
        emu.client_id,
    ]


@pytest.mark.parametrize(
    ("tenant", "base_url"),
    [
        (None, "http://127.0.0.1:8080/api/v1/"),
        (None, "http://localhost:9/x"),
        (None, "http://[::1]:9"),
        (None, "https://nlu.example.com/api/v1"),
        (None, "http://nlu.example.com/api/v1"),
        (None, "https://user:pw@nlu.example.com"),
        (None, "https://nlu.example.com/?q=1"),
        (None, "ftp://nlu.example.com"),
        (None, "https://nlu.example.com:99999"),
        ("Acme", None),
        ("acme", "https://on-prem.example.com"),
        ("-bad-", None),
        ("a.b", None),
        (None, None),
    ],
)
def test_the_prefetch_sends_only_where_the_resolver_would(
    tenant: str | None, base_url: str | None
) -> None:
    try:
        expected: str | None = resolve_base_url(tenant, base_url)
    except BaseUrlError:
        expected = None
    env = {"COGNIGY_CLIENT_ID": "id", "COGNIGY_CLIENT_SECRET": "secret"}
    env |= {"COGNIGY_TENANT": tenant} if tenant else {}
    env |= {"COGNIGY_BASE_URL": base_url} if base_url else {}
    key = token_prefetch.key_from_env(env)
    assert (key.base_url if key else None) == expected


def test_the_prefetch_keeps_the_http_policy_timeouts_with_one_attempt() -> None:
    policy = RetryPolicy()
    assert (token_prefetch.POLICY.connect_timeout, token_prefetch.POLICY.read_timeout) == (
        policy.connect_timeout,
        policy.read_timeout,
    )
    assert token_prefetch.POLICY.max_attempts == 1


@pytest.mark.parametrize(
    ("text", "backend"),
    [
        ("version: 1\nmodel: {id: m}\n", DEFAULT_BACKEND),
        ("version: 1\nbackend: cognigy-v1\n", "cognigy-v1"),
        ("version: 1\nbackend: 'cognigy-v2'\n", "cognigy-v2"),
        ('{"version": 1, "backend": "cognigy-v2"}', "cognigy-v2"),
        # Where a pattern over the text would guess, the YAML decides or nobody does:
        ("version: 1\n# backend: cognigy-v2\n", DEFAULT_BACKEND),
        ("version: 1\nnotes: |\n  backend: cognigy-v2\n", DEFAULT_BACKEND),
        ("version: 1\nbackend:   cognigy-v2   # the real API\n", "cognigy-v2"),
        ("version: 1\n? backend\n: cognigy-v2\n", "cognigy-v2"),
        ("x: &b {backend: cognigy-v2}\n<<: *b\n", None),  # a merge key
        ("backend: cognigy-v1\nbackend: cognigy-v2\n", None),  # a repeated key
        ("backend: [cognigy-v1]\n", None),
        ("backend: !!str cognigy-v1\n", "cognigy-v1"),
        ("backend: 1\n", None),
        ("- backend: cognigy-v1\n", None),
        ("version: [1\n", None),
    ],
)
def test_the_prefetch_reads_the_backend_with_the_config_loaders_yaml(
    tmp_path: Path, text: str, backend: str | None
) -> None:
    path = tmp_path / "training-config.yaml"
    path.write_text(text, encoding="utf-8")
    assert startup.config_backend(path) == backend


def test_no_prefetch_without_credentials_or_for_a_v2_config(tmp_path: Path) -> None:
    env = {
        "COGNIGY_BASE_URL": "http://127.0.0.1:9",
        "COGNIGY_CLIENT_ID": "id",
        "COGNIGY_CLIENT_SECRET": "secret",
    }
    v1 = tmp_path / "v1.yaml"
    v1.write_text("version: 1\nmodel: {id: m}\n", encoding="utf-8")
    v2 = tmp_path / "v2.yaml"
    v2.write_text("version: 1\nbackend: 'cognigy-v2'\n", encoding="utf-8")
    assert startup.start_from_env({**env, "COGNIGY_CLIENT_SECRET": " "}, v1) is False
    assert startup.start_from_env(env, v2) is False
    assert startup.start_from_env(env, tmp_path / "missing.yaml") is False
    assert startup.start_from_env(env, v1) is True
    key = token_prefetch.key_from_env(env)
    assert key is not None
    assert token_prefetch.claim(key) is None  # port 9 refuses: no answer, nothing raised


def test_the_path_to_the_early_request_does_not_load_pydantic() -> None:
    """What `ci-trainer run` imports before its token request leaves: no pydantic (about
    0.3 s), which `errors` once pulled in through `result`. The figure is measured in
    benchmarks/ (row b); this guards the cause."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ci_trainer.cli, ci_trainer.startup, ci_trainer.errors\n"
        "import ci_trainer.backends.cognigy_v1.token_prefetch\n"
        "heavy = sorted(m for m in ('pydantic', 'ci_trainer.result', 'ci_trainer.config')"
        " if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

"""Client-credentials tokens: caching, early refresh, the 401 rule, scopes, masking."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ci_trainer.backends.cognigy_v1.auth import REQUIRED_SCOPES
from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.errors import AuthError, ContractError
from ci_trainer.http.token_refresh import refresh_margin

from .conftest import CLIENT_ID, CLIENT_SECRET, MODEL
from .server import Reply, ScriptedServer

STATUS = f"/models/{MODEL}/training/t-1/status"
RUNNING = {"trainingId": "t-1", "status": "RUNNING"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refresh_margin_is_a_tenth_of_short_lifetimes_and_at_most_300_s() -> None:
    assert refresh_margin(3600) == 300
    assert refresh_margin(600) == 60
    assert refresh_margin(10) == 1
    assert all(refresh_margin(life) < life for life in (0.5, 1, 30, 299, 300, 301, 86400))


def test_the_token_request_is_form_encoded_client_credentials(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on("GET", STATUS, Reply(200, RUNNING))
    client.training_status(MODEL, "t-1")
    (token_request,) = server.requests_to("/auth/token")
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token_request.form() == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": " ".join(REQUIRED_SCOPES),
    }
    assert server.requests_to(STATUS)[0].bearer == "tok-1-s3cr3t"


def test_the_token_is_cached_and_renewed_300_s_before_a_long_expiry(
    server: ScriptedServer, make_client: Callable[..., TrainingClient]
) -> None:
    clock = Clock()
    client = make_client(clock=clock)
    server.on("GET", STATUS, Reply(200, RUNNING))
    for step in (0, 1000, 3299 - 1000):
        clock.now += step
        client.training_status(MODEL, "t-1")
    assert server.tokens_issued == 1
    clock.now += 1  # 3300 s after issue: inside the 300 s margin
    client.training_status(MODEL, "t-1")
    assert server.tokens_issued == 2
    assert [s.bearer for s in server.requests_to(STATUS)] == ["tok-1-s3cr3t"] * 3 + ["tok-2-s3cr3t"]


def test_a_short_lived_token_is_not_renewed_on_every_call(
    server: ScriptedServer, make_client: Callable[..., TrainingClient]
) -> None:
    server.token_lifetime = 60  # the seed's fixed 300 s margin would renew on every call
    clock = Clock()
    client = make_client(clock=clock)
    server.on("GET", STATUS, Reply(200, RUNNING))
    for _ in range(5):
        client.training_status(MODEL, "t-1")
        clock.now += 10  # 0, 10, 20, 30, 40 s: all before 54 s
    assert server.tokens_issued == 1
    clock.now = 1000 + 54
    client.training_status(MODEL, "t-1")
    assert server.tokens_issued == 2


def test_a_401_gets_exactly_one_fresh_token_and_one_retry(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on("GET", STATUS, Reply(401, {"title": "Unauthorized"}), Reply(200, RUNNING))
    assert client.training_status(MODEL, "t-1").status == "RUNNING"
    assert server.tokens_issued == 2
    assert [s.bearer for s in server.requests_to(STATUS)] == ["tok-1-s3cr3t", "tok-2-s3cr3t"]


def test_a_second_401_is_an_auth_error_naming_required_and_granted_scopes(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.token_scope = "model:read training:read"
    server.on("GET", STATUS, Reply(401, {"title": "Unauthorized", "traceId": "abc"}))
    with pytest.raises(AuthError) as caught:
        client.training_status(MODEL, "t-1")
    text = str(caught.value)
    assert "model:read model:write training:read training:write" in text
    assert "the token grants: model:read training:read" in text
    assert "missing: model:write training:write" in text
    assert "this call needs training:read" in text
    assert caught.value.status == 401 and caught.value.trace_id == "abc"
    assert server.tokens_issued == 2
    assert len(server.requests_to(STATUS)) == 2


def test_a_403_is_not_retried_and_names_the_scope_the_call_needs(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.token_scope = "training:read training:write"
    promote = f"/models/{MODEL}/versions/v-1/promote"
    server.on("POST", promote, Reply(403, {"title": "Forbidden", "detail": "scope"}))
    with pytest.raises(AuthError) as caught:
        client.promote(MODEL, "v-1")
    assert "this call needs model:write" in str(caught.value)
    assert "missing: model:read model:write" in str(caught.value)
    assert caught.value.extra["granted_scopes"] == ["training:read", "training:write"]
    assert len(server.requests_to(promote)) == 1


def test_refused_credentials_say_which_settings_to_check_and_never_echo_the_secret(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on(
        "POST",
        "/auth/token",
        Reply(
            401,
            {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"},
            content_type="application/json",
        ),
    )
    with pytest.raises(AuthError) as caught:
        client.dataset_stats("ds-1")
    error = caught.value
    text = str(error)
    assert "refused the client credentials" in text
    assert "COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET" in text
    assert "invalid_client" in text
    assert CLIENT_SECRET not in text and CLIENT_SECRET not in (error.body or "")
    assert server.requests_to("/datasets/ds-1/stats") == []


def test_a_token_is_announced_for_masking_before_it_is_used(
    server: ScriptedServer, client: TrainingClient, masked: list[str]
) -> None:
    order: list[str] = []
    client.redactor.set_listener(lambda value: order.append(f"mask {value}"))
    server.on("GET", STATUS, Reply(200, RUNNING))
    client.training_status(MODEL, "t-1")
    order.append(f"used {server.requests_to(STATUS)[0].bearer}")
    # the raw token first, then its other forms (base64 cores ...), all before its use
    assert order[-1] == "used tok-1-s3cr3t"
    assert order.index("mask tok-1-s3cr3t") < len(order) - 1
    assert CLIENT_SECRET in masked  # the secret is registered when the client is built


def test_granted_scopes_are_exposed_and_absent_scope_means_as_requested(
    server: ScriptedServer, make_client: Callable[..., TrainingClient]
) -> None:
    server.token_scope = "model:read training:read"
    client = make_client()
    assert client.token().scopes == {"model:read", "training:read"}
    assert client.auth.missing_scopes() == ["model:write", "training:write"]
    server.token_scope = None
    other = make_client()
    assert other.token().scopes is None
    assert other.auth.missing_scopes() == []


def test_a_malformed_token_answer_is_a_contract_error_that_hides_the_token(
    server: ScriptedServer, client: TrainingClient, masked: list[str]
) -> None:
    server.on(
        "POST", "/auth/token", Reply(200, {"access_token": "leaky-token-123", "expires_in": "soon"})
    )
    with pytest.raises(ContractError) as caught:
        client.token()
    error = caught.value
    assert "getToken" in str(error) and "field 'expires_in'" in str(error)
    assert "leaky-token-123" not in str(error) and "leaky-token-123" not in (error.body or "")
    assert "leaky-token-123" in masked


@pytest.mark.parametrize("bad", ["\r\n", "\n", "\x00", "\x1b", "\x7f"])
def test_a_token_with_a_control_character_is_refused_naming_the_field(
    server: ScriptedServer, client: TrainingClient, bad: str
) -> None:
    token = f"tok-5e1d8a{bad}::set-output name=decision::promoted"
    server.on("POST", "/auth/token", Reply(200, {"access_token": token, "expires_in": 3600}))
    with pytest.raises(ContractError) as caught:
        client.token()
    text = str(caught.value)
    assert "getToken" in text and "field 'access_token' contains a control character" in text
    assert f"U+{ord(bad[0]):04X}" in text
    assert "tok-5e1d8a" not in text and "set-output" not in text
    assert "tok-5e1d8a" not in (caught.value.body or "")
    assert server.requests_to(STATUS) == []


def test_expires_in_as_a_digit_string_is_accepted(
    server: ScriptedServer, client: TrainingClient
) -> None:
    server.on("POST", "/auth/token", Reply(200, {"access_token": "tok-str", "expires_in": "120"}))
    assert client.token().expires_in == 120.0


def test_concurrent_calls_share_one_token(server: ScriptedServer, client: TrainingClient) -> None:
    server.on("GET", STATUS, Reply(200, RUNNING))
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            client.training_status(MODEL, "t-1")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert server.tokens_issued == 1
    assert len(server.requests_to(STATUS)) == 6

"""The base-URL rule: COGNIGY_BASE_URL / COGNIGY_TENANT -> the API root, and the webhook
URL -> its delivery target; plain http only for loopback."""

from __future__ import annotations

import pytest

from ci_trainer.errors import CiTrainerError
from ci_trainer.http.base_url import (
    BaseUrlError,
    WebhookUrlError,
    resolve_base_url,
    usable_base_url,
    webhook_target,
)


def test_tenant_gives_the_cloud_url() -> None:
    assert resolve_base_url("acme", None) == "https://acme.cognigy.ai/api/v1"


def test_base_url_overrides_tenant_and_loses_its_trailing_slash() -> None:
    assert resolve_base_url("acme", "https://nlu.example.com/api/v1/") == (
        "https://nlu.example.com/api/v1"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/api/v1",
        "http://127.8.9.10/api/v1",
        "http://localhost:9000/api/v1",
        "http://[::1]:9000/api/v1",
    ],
)
def test_plain_http_is_allowed_for_loopback_hosts(url: str) -> None:
    assert resolve_base_url(None, url) == url


@pytest.mark.parametrize(
    "url", ["http://nlu.example.com/api/v1", "http://10.0.0.5/api/v1", "http://128.0.0.1/"]
)
def test_plain_http_is_refused_for_other_hosts(url: str) -> None:
    with pytest.raises(BaseUrlError) as caught:
        resolve_base_url(None, url)
    assert "plain http" in str(caught.value)
    assert "https" in str(caught.value.hint)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter22@nlu.example.com/api/v1",
        "https://:hunter22@nlu.example.com/api/v1",
        "ftp://user:hunter22@nlu.example.com",  # a wrong scheme as well: still not echoed
        "user:hunter22@nlu.example.com/api/v1",  # no "//": urlsplit sees scheme "user"
    ],
)
def test_credentials_in_the_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(BaseUrlError) as caught:
        resolve_base_url(None, url)
    assert "hunter22" not in str(caught.value)
    assert "COGNIGY_CLIENT_SECRET" in str(caught.value)


@pytest.mark.parametrize(
    ("tenant", "url", "expected"),
    [
        (None, None, "no training service configured"),
        ("acme.cognigy.ai", None, "is not a tenant name"),
        (None, "ftp://nlu.example.com", "is not an http(s) URL"),
        (None, "https://nlu.example.com/api/v1?x=1", "query or fragment"),
    ],
)
def test_unusable_settings_say_what_to_set(
    tenant: str | None, url: str | None, expected: str
) -> None:
    with pytest.raises(BaseUrlError) as caught:
        resolve_base_url(tenant, url)
    assert expected in str(caught.value)
    assert "COGNIGY_" in str(caught.value)


@pytest.mark.parametrize(
    ("tenant", "base_url"),
    [
        (None, "http://127.0.0.1:8080/api/v1/"),
        (None, "https://user:pw@nlu.example.com"),
        (None, "https://nlu.example.com:99999"),
        ("Acme", None),
        ("-bad-", None),
        (None, None),
    ],
)
def test_the_usable_base_url_is_the_resolved_one_or_none(
    tenant: str | None, base_url: str | None
) -> None:
    try:
        expected: str | None = resolve_base_url(tenant, base_url)
    except BaseUrlError:
        expected = None
    assert usable_base_url(tenant, base_url) == expected


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://hooks.example.com/nlu", "https://hooks.example.com/nlu"),
        (
            "https://user:pw@hooks.example.com:8443/a/b?token=t0ps3cret#x",
            "https://hooks.example.com:8443/a/b",
        ),
        ("http://127.0.0.1:9000/h", "http://127.0.0.1:9000/h"),
        ("http://127.8.9.10/h", "http://127.8.9.10/h"),
        ("http://localhost:8080/h?k=v", "http://localhost:8080/h"),
        ("http://[::1]:8080/h", "http://[::1]:8080/h"),
        ("HTTPS://Hooks.Example.com/x", "https://hooks.example.com/x"),
    ],
)
def test_usable_urls_and_their_safe_target(url: str, target: str) -> None:
    assert webhook_target(url) == target


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/nlu", "must use https://"),
        ("http://10.0.0.1/nlu", "must use https://"),
        ("http://localhost.example.com/nlu", "must use https://"),
        ("ftp://hooks.example.com/nlu", "must start with https:// (scheme: 'ftp')"),
        ("hooks.example.com/nlu", "must start with https:// (scheme: none)"),
        ("https:///nlu", "has no host"),
        ("https://hooks.example.com:99999/nlu", "cannot be parsed"),
    ],
)
def test_unusable_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(WebhookUrlError) as caught:
        webhook_target(url)
    assert message in str(caught.value)


def test_url_error_never_shows_query_or_userinfo() -> None:
    with pytest.raises(WebhookUrlError) as caught:
        webhook_target("http://alice:pa55word@hooks.example.com/x?token=t0ps3cret")
    text = str(caught.value)
    assert "http://hooks.example.com/x" in text
    assert "pa55word" not in text and "t0ps3cret" not in text and "alice" not in text


def test_a_webhook_url_error_is_a_users_mistake() -> None:
    with pytest.raises(CiTrainerError) as caught:
        webhook_target("ftp://hooks.example.com/nlu")
    assert isinstance(caught.value, WebhookUrlError)
    assert caught.value.exit_code == 2 and caught.value.decision == "invalid"
    assert str(caught.value) == "the webhook URL must start with https:// (scheme: 'ftp')"

"""COGNIGY_BASE_URL / COGNIGY_TENANT -> the API root; plain http only for loopback."""

from __future__ import annotations

import pytest

from ci_trainer.http.base_url import BaseUrlError, resolve_base_url


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

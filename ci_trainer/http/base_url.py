"""Which URLs a run may send to: the training services' base URLs and the webhook's.

One rule for all of them: an http(s) URL with a host; plain http only for loopback
hosts; a URL that may hold a password (user info, or one that does not parse) is never
echoed. A service's base URL must in addition carry no credentials (user info) and no
query or fragment; a webhook URL may (receivers put tokens there), and its messages
show it without them. Each caller words the rule for its setting.

Standard library and ci_trainer.errors only, so the early token request
(ci_trainer.startup) applies the same rule before the client's imports load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from ci_trainer.decision import Decision
from ci_trainer.errors import CiTrainerError
from ci_trainer.http.loopback import is_loopback

UrlProblem = Literal["unparsable", "scheme", "host", "userinfo", "query", "plain-http"]
# problem -> (message, hint); a message may name {url} (only where it cannot hold a
# password), {target} (the URL without user info, query and fragment) or {scheme}.
UrlTexts = Mapping[UrlProblem, tuple[str, str | None]]

TENANT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
TENANT_URL = "https://{tenant}.cognigy.ai/api/v1"
_ECHO_SAFE: frozenset[UrlProblem] = frozenset({"scheme", "host", "query", "plain-http"})


class BaseUrlError(CiTrainerError):
    """COGNIGY_BASE_URL / COGNIGY_TENANT cannot be used (a user's mistake: exit 2)."""

    decision = Decision.INVALID


class WebhookUrlError(BaseUrlError):
    """The webhook URL cannot be used; the message names the rule and never the secret
    parts of the URL."""


def url_problem(url: str, *, credentials_allowed: bool = False) -> UrlProblem | None:
    """Why `url` cannot be used, or None when it can.

    "unparsable" (e.g. a bad port), "userinfo" (a user name or password, even
    "https://:pw@host"), "scheme" (not http(s)), "host" (none), "query" (a query or
    fragment), or "plain-http" (http to a non-loopback host). With
    `credentials_allowed` (a webhook), user info and a query are no problem.
    """
    try:
        parts = _split(url)
    except ValueError:
        return "unparsable"
    # First: the other messages echo the URL. Any "@" counts: without "//",
    # "user:pw@host" parses as scheme "user" with no user info at all.
    if not credentials_allowed and (parts.username or parts.password or "@" in url):
        return "userinfo"
    if parts.scheme not in ("http", "https"):
        return "scheme"
    if not parts.hostname:
        return "host"
    if not credentials_allowed and (parts.query or parts.fragment):
        return "query"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "plain-http"
    return None


def check_url(
    url: str,
    texts: UrlTexts,
    *,
    error: type[BaseUrlError] = BaseUrlError,
    credentials_allowed: bool = False,
) -> None:
    """Raise `error` with the caller's words when `url` breaks the rule."""
    problem = url_problem(url, credentials_allowed=credentials_allowed)
    if problem is None:
        return
    message, hint = texts[problem]
    if problem in _ECHO_SAFE:
        scheme = _split(url).scheme
        fields = {"target": target_of(url), "scheme": f"'{scheme}'" if scheme else "none"}
        if not credentials_allowed:  # else the URL itself may hold a token
            fields["url"] = url
        message = message.format(**fields)
    raise error(message, hint=hint)


def target_of(url: str) -> str | None:
    """`url` without user info, query and fragment, or None when it cannot be parsed."""
    try:
        parts = _split(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _split(url: str) -> SplitResult:
    parts = urlsplit(url.strip())
    _ = parts.port  # raises ValueError for a port that is not a number in range
    return parts


# ------------------------------------------------------------------ the v1 service

_EXAMPLE = "use e.g. https://acme.cognigy.ai/api/v1"
_V1_TEXTS: UrlTexts = {
    "unparsable": ("COGNIGY_BASE_URL is not a valid URL", _EXAMPLE),
    "scheme": ("COGNIGY_BASE_URL {url!r} is not an http(s) URL", _EXAMPLE),
    "host": ("COGNIGY_BASE_URL {url!r} is not an http(s) URL", _EXAMPLE),
    "userinfo": (
        "COGNIGY_BASE_URL must not contain a user name or password",
        "pass credentials as COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET",
    ),
    "query": (
        "COGNIGY_BASE_URL {url!r} must not have a query or fragment",
        "use only scheme, host, port and path, e.g. https://acme.cognigy.ai/api/v1",
    ),
    "plain-http": (
        "COGNIGY_BASE_URL {url!r} uses plain http for a non-loopback host",
        "use https (credentials and tokens would travel in clear text); "
        "plain http is allowed only for localhost, 127.0.0.0/8 and ::1",
    ),
}


def resolve_base_url(tenant: str | None, base_url: str | None) -> str:
    """The API root without a trailing slash; COGNIGY_BASE_URL wins over the tenant."""
    if base_url:
        url = base_url.strip()
        check_url(url, _V1_TEXTS)
        return url.rstrip("/")
    if tenant:
        tenant = tenant.strip()
        if not TENANT.match(tenant):
            msg = f"COGNIGY_TENANT {tenant!r} is not a tenant name"
            raise BaseUrlError(
                msg,
                hint="use the first label of your tenant's host name, e.g. 'acme' for "
                "acme.cognigy.ai, or set COGNIGY_BASE_URL",
            )
        return TENANT_URL.format(tenant=tenant.lower())
    msg = "no training service configured"
    raise BaseUrlError(
        msg,
        hint="set COGNIGY_TENANT, or COGNIGY_BASE_URL for on-prem services and the emulator",
    )


def usable_base_url(tenant: str | None, base_url: str | None) -> str | None:
    """What `resolve_base_url` returns for these, or None where it would refuse them."""
    try:
        return resolve_base_url(tenant, base_url)
    except BaseUrlError:
        return None


# ------------------------------------------------------------------ the v2 service

# The paths a Cognigy.AI base URL may end in (C2): every route is <host>/new/v2.0/...,
# <host>/v2.0/... also works, and the docs' "API Base URL" ends in /openapi, which is
# the reference page, not a path prefix.
V2_PREFIX = "/new/v2.0"
V2_PREFIXES = ("/new/v2.0", "/v2.0")
V2_REFERENCE_PAGE = "/openapi"
V2_FORMS = (
    "<host>, <host>/new/v2.0, <host>/v2.0 or <host>/openapi (e.g. https://api-trial.cognigy.ai)"
)


@dataclass(frozen=True)
class V2BaseUrl:
    """A usable Cognigy.AI base URL: the origin requests go to, the API prefix the routes
    take, and a notice when the given URL was corrected (the /openapi page stripped)."""

    origin: str
    prefix: str
    notice: str | None = None


def _v2_texts(setting: str) -> UrlTexts:
    not_plain = (f"{setting} is not a plain http(s) URL", f"use {V2_FORMS}")
    return {
        "unparsable": not_plain,
        "scheme": not_plain,
        "host": not_plain,
        "query": not_plain,
        "userinfo": (
            f"{setting} must not contain a user name or password",
            "pass COGNIGY_API_KEY (action input api-key), or COGNIGY_CLIENT_ID and "
            "COGNIGY_CLIENT_SECRET (client-id, client-secret)",
        ),
        "plain-http": (
            f"{setting} {{url!r}} uses plain http for a non-loopback host",
            "use https: the API key or token would travel in clear text",
        ),
    }


def v2_base_url(url: str, setting: str) -> V2BaseUrl:
    """The origin and API prefix of a Cognigy.AI v2 base URL as users paste it.

    `setting` names where the URL came from (e.g. COGNIGY_BASE_URL), for the messages.
    Raises BaseUrlError for a URL that breaks the rule or has any other path.
    """
    url = url.strip()
    check_url(url, _v2_texts(setting))
    parts = _split(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return V2BaseUrl(origin, V2_PREFIX)
    if path in V2_PREFIXES:
        return V2BaseUrl(origin, path)
    if path == V2_REFERENCE_PAGE:
        notice = (
            f"{setting} {url} ends in {V2_REFERENCE_PAGE}, the API reference page of the "
            f"docs, not a path of the API: using {origin} (routes {origin}{V2_PREFIX}/...); "
            f"set {setting} to {origin} to silence this notice"
        )
        return V2BaseUrl(origin, V2_PREFIX, notice)
    msg = f"{setting} {url!r} has the path {path!r}, which is not a Cognigy.AI API path"
    raise BaseUrlError(msg, hint=f"use {V2_FORMS}")


# ------------------------------------------------------------------ the webhook

_PLAIN_HTTP_HOSTS = "loopback hosts: 127.0.0.0/8, ::1, localhost"
_WEBHOOK_TEXTS: UrlTexts = {
    "unparsable": ("the webhook URL cannot be parsed (check the host and port)", None),
    "scheme": ("the webhook URL must start with https:// (scheme: {scheme})", None),
    "host": ("the webhook URL has no host", None),
    "plain-http": (
        "the webhook URL {target} must use https:// (plain http is allowed only for "
        f"{_PLAIN_HTTP_HOSTS})",
        None,
    ),
}


def webhook_target(url: str) -> str:
    """The delivery target (scheme://host[:port]/path) of a usable webhook URL.

    https is required, except for loopback hosts (127.0.0.0/8, ::1, localhost) where
    plain http is allowed for local receivers and tests. Raises `WebhookUrlError`.
    """
    check_url(url, _WEBHOOK_TEXTS, error=WebhookUrlError, credentials_allowed=True)
    return target_of(url) or url

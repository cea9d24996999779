"""Where a service may be reached: plain http for loopback hosts only, and what a base URL
may hold.

Standard library only, so the early token request (ci_trainer.startup) can use it
before the client's imports load.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

UrlProblem = Literal["unparsable", "scheme", "userinfo", "query", "plain-http"]


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the only hosts plain http is allowed for."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_problem(url: str) -> UrlProblem | None:
    """Why `url` cannot be a service's base URL, or None when it can.

    "unparsable" (e.g. a bad port), "userinfo" (a user name or password, even
    "https://:pw@host"), "scheme" (not http(s), or no host), "query" (a query or
    fragment), or "plain-http" (http to a non-loopback host). Callers word the message;
    a URL with user info must never be echoed.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return "unparsable"
    # First: the other messages echo the URL. Any "@" counts: without "//",
    # "user:pw@host" parses as scheme "user" with no user info at all.
    if parts.username or parts.password or "@" in url:
        return "userinfo"
    if parts.scheme not in ("http", "https") or not host:
        return "scheme"
    if parts.query or parts.fragment:
        return "query"
    if parts.scheme == "http" and not is_loopback(host):
        return "plain-http"
    return None

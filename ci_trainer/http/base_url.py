"""Where the training service lives: COGNIGY_BASE_URL, else the tenant's cloud URL."""

from __future__ import annotations

import re

from ci_trainer.errors import CiTrainerError
from ci_trainer.http.loopback import UrlProblem, base_url_problem
from ci_trainer.result import Decision

_TENANT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
TENANT_URL = "https://{tenant}.cognigy.ai/api/v1"


class BaseUrlError(CiTrainerError):
    """COGNIGY_BASE_URL / COGNIGY_TENANT cannot be used (a user's mistake: exit 2)."""

    decision = Decision.INVALID


def resolve_base_url(tenant: str | None, base_url: str | None) -> str:
    """The API root without a trailing slash; COGNIGY_BASE_URL wins over the tenant."""
    if base_url:
        return _checked_base_url(base_url.strip())
    if tenant:
        tenant = tenant.strip()
        if not _TENANT.match(tenant):
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


def _checked_base_url(url: str) -> str:
    problem = base_url_problem(url)
    if problem is None:
        return url.rstrip("/")
    example = "use e.g. https://acme.cognigy.ai/api/v1"
    # Never echo the URL when it may hold a password (unparsable, or with user info).
    messages: dict[UrlProblem, tuple[str, str]] = {
        "unparsable": ("COGNIGY_BASE_URL is not a valid URL", example),
        "scheme": (f"COGNIGY_BASE_URL {url!r} is not an http(s) URL", example),
        "userinfo": (
            "COGNIGY_BASE_URL must not contain a user name or password",
            "pass credentials as COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET",
        ),
        "query": (
            f"COGNIGY_BASE_URL {url!r} must not have a query or fragment",
            "use only scheme, host, port and path, e.g. https://acme.cognigy.ai/api/v1",
        ),
        "plain-http": (
            f"COGNIGY_BASE_URL {url!r} uses plain http for a non-loopback host",
            "use https (credentials and tokens would travel in clear text); "
            "plain http is allowed only for localhost, 127.0.0.0/8 and ::1",
        ),
    }
    message, hint = messages[problem]
    raise BaseUrlError(message, hint=hint)

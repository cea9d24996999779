"""OAuth2 client credentials like a tenant's: one client, scoped tokens that expire."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_trainer.emulator.problem import Problem

ALL_SCOPES = ("model:read", "model:write", "training:read", "training:write")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str = field(repr=False)
    scopes: frozenset[str]  # what this client may be granted
    token_expires_in: float


@dataclass(frozen=True)
class Grant:
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # time.monotonic()


class TokenIssuer:
    """Issues bearer tokens for the configured client and checks them on every call."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def issue(self, form: Mapping[str, str], expires_in: float | None = None) -> dict[str, Any]:
        """The token endpoint: a `Token` body, or a 400/401 `Problem`."""
        if form.get("grant_type") != "client_credentials":
            raise Problem(400, "grant_type must be client_credentials")
        self._check_client(form.get("client_id", ""), form.get("client_secret", ""))
        scopes = self._granted_scopes(form.get("scope"))
        lifetime = expires_in if expires_in is not None else self.credentials.token_expires_in
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = Grant(
                self.credentials.client_id, scopes, time.monotonic() + lifetime
            )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(sorted(scopes)),
        }

    def _check_client(self, client_id: str, secret: str) -> None:
        # Compare both in constant time, so timing tells nothing about either.
        known = hmac.compare_digest(client_id.encode(), self.credentials.client_id.encode())
        right = hmac.compare_digest(secret.encode(), self.credentials.client_secret.encode())
        if not (known and right):
            raise Problem(401, "unknown client or wrong secret (check COGNIGY_CLIENT_ID/SECRET)")

    def _granted_scopes(self, requested: str | None) -> frozenset[str]:
        if not requested:
            return self.credentials.scopes
        wanted = frozenset(requested.split())
        unknown = sorted(wanted - set(ALL_SCOPES))
        if unknown:
            raise Problem(400, f"unknown scope(s): {' '.join(unknown)}")
        granted = wanted & self.credentials.scopes
        if not granted:
            raise Problem(400, "none of the requested scopes is granted to this client")
        return granted

    def authorize(self, authorization: str | None, scopes: tuple[str, ...]) -> Grant:
        """The grant behind an `Authorization` header holding `scopes`; else 401/403."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            msg = "missing bearer token: send Authorization: Bearer <token>"
            raise _unauthorized(msg)
        with self._lock:
            grant = self._grants.get(token.strip())
        if grant is None:
            msg = "unknown access token; request a new one from /auth/token"
            raise _unauthorized(msg)
        if time.monotonic() >= grant.expires_at:
            msg = "the access token has expired; request a new one"
            raise _unauthorized(msg)
        missing = [scope for scope in scopes if scope not in grant.scopes]
        if missing:
            raise Problem(403, f"the token lacks the scope(s) {' '.join(missing)}")
        return grant

    def client_of(self, authorization: str | None) -> str | None:
        """The client a bearer token belongs to (for rate limiting), without checking it."""
        token = (authorization or "").partition(" ")[2].strip()
        with self._lock:
            grant = self._grants.get(token)
        return grant.client_id if grant else None

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._grants)


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="ci-trainer-emulator"'})

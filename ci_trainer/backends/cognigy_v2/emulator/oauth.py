"""The v2 emulator's OAuth2 token endpoint (C8): `POST <host>/auth/oauth2/token`.

Form-encoded `grant_type=client_credentials` with `client_id`, `client_secret` and an
optional `scope`; the answer is `{access_token, token_type, expires_in}` and requests
then authenticate with `Authorization: Bearer <access_token>` until the token expires.
Errors are RFC 6749 section 5.2 bodies (`{error, error_description}`), as token
endpoints send them.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from ci_trainer.backends.cognigy_v2.emulator.problems import OAuthError
from ci_trainer.backends.cognigy_v2.emulator.responses import json_response

TOKEN_PATH = "/auth/oauth2/token"  # noqa: S105 - a path, not a password
TOKEN_TYPE = "Bearer"  # noqa: S105 - the scheme name
DEFAULT_TOKEN_SECONDS = 3600


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenIssuer:
    """Issues expiring tokens to one OAuth2 client and checks them (thread-safe)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_seconds: float = DEFAULT_TOKEN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_seconds = token_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}  # token -> when it stops being accepted
        self.scopes: list[str | None] = []  # the `scope` of each token request

    def __repr__(self) -> str:  # never the secret or a token
        return f"TokenIssuer(client_id={self.client_id!r})"

    @property
    def issued(self) -> list[str]:
        """Every token issued so far, oldest first (tests sweep the run's output for them)."""
        with self._lock:
            return list(self._expiry)

    def revoke_all(self) -> None:
        """Every issued token stops working (as when an admin rotates the client)."""
        with self._lock:
            for token in self._expiry:
                self._expiry[token] = float("-inf")

    def issue(self, request: Request) -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "the token request must be form-encoded")
        form = request.form
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not served")
        given_id, given_secret = form.get("client_id", ""), form.get("client_secret", "")
        if not (_same(given_id, self.client_id) and _same(given_secret, self.client_secret)):
            raise OAuthError(401, "invalid_client", "unknown client or wrong client secret")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expiry[token] = self._clock() + self.token_seconds
            self.scopes.append(form.get("scope"))
        return json_response(
            {
                "access_token": token,
                "token_type": TOKEN_TYPE,
                "expires_in": self.token_seconds,
                "scope": form.get("scope") or "",
            }
        )

    def check(self, authorization: str) -> None:
        """Accept `Authorization: Bearer <token>` with a live token; raise OAuthError."""
        kind, _, token = authorization.partition(" ")
        if kind.lower() != TOKEN_TYPE.lower() or not token:
            raise OAuthError(401, "invalid_request", "send Authorization: Bearer <token>")
        with self._lock:
            expiry = next((e for t, e in self._expiry.items() if _same(token, t)), None)
        if expiry is None:
            raise OAuthError(401, "invalid_token", "the token is not known")
        if self._clock() >= expiry:
            raise OAuthError(401, "invalid_token", "the token has expired")

"""OAuth2 client credentials: one token at a time, cached, renewed ahead of expiry.

Every issued token is registered with the Redactor before it is used, so the action's
`::add-mask::` hook runs before anything could print it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from requests.structures import CaseInsensitiveDict

from ci_trainer.backends.cognigy_v1 import token_prefetch
from ci_trainer.backends.cognigy_v1.decode import checked, json_body
from ci_trainer.backends.cognigy_v1.models import Token
from ci_trainer.backends.cognigy_v1.token_prefetch import REQUIRED_SCOPES as REQUIRED_SCOPES
from ci_trainer.backends.cognigy_v1.token_prefetch import TOKEN_PATH, PrefetchedAnswer, PrefetchKey
from ci_trainer.errors import AuthError, CiTrainerError, ContractError
from ci_trainer.http.client import Call, HttpClient, HttpResponse
from ci_trainer.http.policy import RetryMode
from ci_trainer.http.service_text import service_text
from ci_trainer.http.status import error_from_response, problem_fields
from ci_trainer.http.token_refresh import refresh_margin
from ci_trainer.redact import Redactor

TOKEN_CALL = Call("getToken", "POST", TOKEN_PATH)
_CREDENTIALS_HINT = (
    "check COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET, and that the client may use "
    "the client_credentials grant"
)


def describe_scopes(needed: Iterable[str], granted: frozenset[str] | None) -> str:
    """ "needs X; the token grants Y (missing: Z)" for error hints."""
    needed = list(needed)
    text = f"needs the scopes {' '.join(needed)}"
    if granted is None:
        return text + "; the token response did not list the scopes it grants"
    missing = [scope for scope in needed if scope not in granted]
    shown = " ".join(sorted(granted)) or "none"
    text += f"; the token grants: {shown}"
    return text + (f" (missing: {' '.join(missing)})" if missing else "")


class ClientCredentials:
    """Issues and caches bearer tokens for one client (thread-safe)."""

    def __init__(
        self,
        http: HttpClient,
        client_id: str,
        client_secret: str,
        *,
        redactor: Redactor,
        scopes: Iterable[str] = REQUIRED_SCOPES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._redactor = redactor
        self.requested_scopes = tuple(scopes)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._renew_at = 0.0
        redactor.add(client_secret)

    @property
    def current(self) -> Token | None:
        return self._token

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        """Scopes the last token response granted; None when it did not say."""
        return None if self._token is None else self._token.scopes

    def missing_scopes(self) -> list[str]:
        granted = self.granted_scopes
        if granted is None:  # RFC 6749 5.1: no `scope` means "as requested"
            return []
        return [scope for scope in REQUIRED_SCOPES if scope not in granted]

    def bearer(self) -> str:
        """A token valid for a while yet: the cached one, or a new one."""
        with self._lock:
            token = self._token
            if token is None or self._clock() >= self._renew_at:
                token = self._issue()
            return token.access_token

    def renew(self, rejected: str | None = None) -> str:
        """A fresh token after `rejected` was refused (another thread may have renewed)."""
        with self._lock:
            token = self._token
            if token is None or token.access_token == rejected:
                token = self._issue()
            return token.access_token

    def _issue(self) -> Token:
        early = self._prefetched()
        if early is not None:
            return early
        response = self._http.send(
            TOKEN_CALL,
            retry=RetryMode.SAFE,  # asking for another token has no side effect
            form={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": " ".join(self.requested_scopes),
            },
        )
        if not response.ok:
            raise self._refused(response)
        return self._accept(response)

    def _accept(self, response: HttpResponse, age: float = 0.0) -> Token:
        """Register, check and cache the token a 2xx answer `age` seconds old carries."""
        body = json_body(response, self._redactor)
        self._register_token(body)
        _refuse_control_characters(response, body)
        token = checked(response, body, Token, self._redactor)
        self._token = token
        lifetime = token.expires_in
        self._renew_at = self._clock() - age + lifetime - refresh_margin(lifetime)
        return token

    def _prefetched(self) -> Token | None:
        """The token the CLI's early request fetched for this very client, if it has one.

        Any problem with it means None, and `_issue` asks the service itself: the user
        then sees the error the normal path gives, never one of the prefetch's own.
        """
        key = PrefetchKey(
            self._http.base_url,
            self._client_id,
            self._client_secret,
            self.requested_scopes,
        )
        answer = token_prefetch.claim(key)
        if answer is None:
            return None
        try:
            return self._accept(_as_response(answer), age=time.monotonic() - answer.received_at)
        except CiTrainerError:
            return None

    def _register_token(self, body: Any) -> None:
        # Before validation: even a malformed answer must not leak the token it carries.
        if isinstance(body, dict) and isinstance(body.get("access_token"), str):
            self._redactor.add(body["access_token"])

    def _refused(self, response: HttpResponse) -> Exception:
        if response.status not in (400, 401, 403):
            return error_from_response(response, self._redactor)
        error = error_from_response(
            response,
            self._redactor,
            message="the service refused the client credentials",
            hint=_CREDENTIALS_HINT,
            error_type=AuthError,
        )
        oauth_error = _oauth_error(response)
        if oauth_error and not error.detail:
            error.detail = service_text(oauth_error, self._redactor)
        return error


def _refuse_control_characters(response: HttpResponse, body: Any) -> None:
    """A token with CR, LF, NUL or another control character is refused on receipt.

    Sent in a header it would split the request (CR/LF) or be cut short (NUL), and
    printed it would split a log line. The token itself is never quoted: the error
    names the field and the character's code only.
    """
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        return  # a missing or non-string token is the contract check's to report
    bad = next((char for char in token if ord(char) < 0x20 or ord(char) == 0x7F), None)
    if bad is None:
        return
    raise ContractError(
        call=response.call.label,
        message_text=(
            f"the token answer's field 'access_token' contains a control character "
            f"(U+{ord(bad):04X}); the token is refused and not shown"
        ),
        status=response.status,
        hint_text=(
            "the token endpoint sent a malformed token: check that COGNIGY_BASE_URL "
            "points at the training service, and report it to the service's operator"
        ),
    )


def _as_response(answer: PrefetchedAnswer) -> HttpResponse:
    return HttpResponse(
        status=answer.status,
        headers=CaseInsensitiveDict(answer.headers),
        content=answer.content,
        attempts=1,
        call=TOKEN_CALL,
    )


def _oauth_error(response: HttpResponse) -> str | None:
    """RFC 6749 section 5.2 error fields, which token endpoints send instead of RFC 7807."""
    body = problem_fields(response)
    if not isinstance(body.get("error"), str):
        return None
    name: str = body["error"]
    description = body.get("error_description")
    return name + (f": {description}" if isinstance(description, str) else "")

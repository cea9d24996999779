"""How a v2 run proves who it is: an API key, or OAuth2 client credentials (C8).

Cognigy.AI issues both. An API key goes out as `X-API-Key` on every request. OAuth2
client credentials are exchanged at `<host>/auth/oauth2/token` (form-encoded,
`grant_type=client_credentials`) for a token sent as `Authorization: <token_type>
<access_token>`; the token is cached, renewed ahead of expiry by the rule v1 uses too
(`http.token_refresh`) and once more after a 401. Every secret and every issued token
is registered with the Redactor before it is used, so the action's `::add-mask::` hook
runs before anything could print it.

`credentials_rule` is the one place that says which settings make a v2 run's
credentials: the plug-in's `missing_credentials` and `build` both ask it.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ci_trainer.backends.cognigy_v2.wire import object_of, v2_error
from ci_trainer.decision import Decision
from ci_trainer.errors import ApiError, AuthError, CiTrainerError, ContractError
from ci_trainer.http.client import Call, HttpClient, HttpResponse
from ci_trainer.http.policy import RetryMode
from ci_trainer.http.token_refresh import refresh_margin
from ci_trainer.redact import Redactor

TOKEN_PATH = "/auth/oauth2/token"  # noqa: S105 - a path, on the host outside /new/v2.0
TOKEN_CALL = Call("issueOAuth2Token", "POST", TOKEN_PATH)
API_KEY = "COGNIGY_API_KEY (action input api-key)"
CLIENT = "COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET (action inputs client-id and client-secret)"
NEITHER = "COGNIGY_API_KEY (or COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET)"
# A header value must be one line of visible characters; a token_type one word.
_TOKEN_TEXT = re.compile(r"^[\x21-\x7e]+$")
_CREDENTIALS_HINT = (
    f"check {CLIENT}, and that the OAuth2 client may use the client_credentials grant"
)


class CredentialsConflict(CiTrainerError):
    """Both an API key and OAuth2 client credentials were given (a user's mistake)."""

    decision = Decision.INVALID


@dataclass(frozen=True)
class ClientSecret:
    """OAuth2 client credentials as the settings give them."""

    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    scope: str | None = None


def credentials_rule(
    api_key: str | None, client_id: str | None, client_secret: str | None
) -> list[str]:
    """The settings a v2 run still needs ([] when it has its credentials). Raises
    `CredentialsConflict` when an API key and client credentials are both given: which
    one the user meant cannot be guessed, and using either could hide a leaked secret."""
    if api_key and (client_id or client_secret):
        given = " and ".join(
            name
            for name, value in (
                ("COGNIGY_CLIENT_ID", client_id),
                ("COGNIGY_CLIENT_SECRET", client_secret),
            )
            if value
        )
        msg = f"both an API key (COGNIGY_API_KEY) and OAuth2 client credentials ({given}) are set"
        raise CredentialsConflict(
            msg,
            hint=f"give one of them for backend cognigy-v2: either {API_KEY}, or {CLIENT}; "
            "remove the other from the workflow's env or with: inputs",
        )
    if api_key or (client_id and client_secret):
        return []
    if client_id:
        return ["COGNIGY_CLIENT_SECRET (with COGNIGY_CLIENT_ID)"]
    if client_secret:
        return ["COGNIGY_CLIENT_ID (with COGNIGY_CLIENT_SECRET)"]
    return [NEITHER]


class V2Auth(Protocol):
    """The headers that authenticate a request, and what to do after a 401."""

    def headers(self) -> dict[str, str]: ...

    def renew(self, rejected: Mapping[str, str]) -> dict[str, str] | None:
        """Headers to try once more after `rejected` got a 401; None: nothing to renew."""
        ...

    def explain(self, error: ApiError) -> ApiError:
        """`error` (a final 401 or 403) in the words of this kind of credential."""
        ...


class ApiKeyAuth:
    """`X-API-Key` on every request; a 401 is final (there is nothing to renew)."""

    def __init__(self, api_key: str, redactor: Redactor) -> None:
        redactor.add(api_key)
        self._api_key = api_key

    def __repr__(self) -> str:  # never the key
        return "ApiKeyAuth()"

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self._api_key}

    def renew(self, rejected: Mapping[str, str]) -> dict[str, str] | None:
        return None

    def explain(self, error: ApiError) -> ApiError:
        return error  # the status table already speaks of the API key


@dataclass(frozen=True)
class _Token:
    header: str  # "<token_type> <access_token>"
    renew_at: float


class OAuth2Auth:
    """Client-credentials tokens for one client: cached, renewed early, thread-safe."""

    def __init__(
        self,
        http: HttpClient,
        credentials: ClientSecret,
        *,
        redactor: Redactor,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        redactor.add(credentials.client_secret)
        self._http = http
        self._credentials = credentials
        self._redactor = redactor
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self.issued = 0  # tokens fetched so far (a run's summary of its auth)

    def __repr__(self) -> str:  # never the secret or a token
        return f"OAuth2Auth(client_id={self._credentials.client_id!r})"

    def headers(self) -> dict[str, str]:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                token = self._issue()
            return {"Authorization": token.header}

    def renew(self, rejected: Mapping[str, str]) -> dict[str, str] | None:
        with self._lock:
            token = self._token
            # Another thread may have renewed it since `rejected` went out.
            if token is None or token.header == rejected.get("Authorization"):
                token = self._issue()
            return {"Authorization": token.header}

    def explain(self, error: ApiError) -> ApiError:
        if error.status == 401:
            return dataclasses.replace(
                error,
                message_text="the service refused a freshly issued OAuth2 token",
                hint_text=f"{_CREDENTIALS_HINT}; the client's user needs API access",
            )
        return dataclasses.replace(
            error,
            hint_text="the OAuth2 client's user (COGNIGY_CLIENT_ID) needs access to the "
            "project (cognigy_v2.project_id)",
        )

    def _issue(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret,
        }
        if self._credentials.scope:
            form["scope"] = self._credentials.scope
        # Asking for another token has no side effect: retried like a read.
        response = self._http.send(TOKEN_CALL, retry=RetryMode.SAFE, form=form)
        if not response.ok:
            raise self._refused(response)
        token = self._accept(response)
        self._token = token
        self.issued += 1
        return token

    def _accept(self, response: HttpResponse) -> _Token:
        body = object_of(response, self._redactor)
        access = body.get("access_token")
        # Registered before it is checked: even a malformed answer must not leak it.
        if isinstance(access, str):
            self._redactor.add(access)
        if not isinstance(access, str) or not _TOKEN_TEXT.fullmatch(access):
            raise self._malformed(response, "access_token is not a one-line token")
        kind = body.get("token_type", "Bearer")
        if not isinstance(kind, str) or not _TOKEN_TEXT.fullmatch(kind):
            raise self._malformed(response, "token_type is not one word (e.g. Bearer)")
        lifetime = body.get("expires_in")
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)  # some servers send the number as text
        if (
            not isinstance(lifetime, int | float)
            or isinstance(lifetime, bool)
            or not math.isfinite(lifetime)
            or lifetime <= 0
        ):
            raise self._malformed(response, "expires_in is not a positive number of seconds")
        renew_at = self._clock() + lifetime - refresh_margin(float(lifetime))
        return _Token(header=f"{kind} {access}", renew_at=renew_at)

    def _malformed(self, response: HttpResponse, what: str) -> ContractError:
        return ContractError(
            call=response.call.label,
            message_text=f"the OAuth2 token answer is not usable: {what}",
            status=response.status,
            hint_text=f"the service at {TOKEN_PATH} does not answer as RFC 6749 says; "
            f"quote this to support, or use {API_KEY} instead",
        )

    def _refused(self, response: HttpResponse) -> ApiError:
        error = v2_error(response, self._redactor)
        if response.status == 404:
            return dataclasses.replace(
                error,
                message_text=f"this Cognigy.AI installation has no OAuth2 token endpoint "
                f"({TOKEN_PATH})",
                hint_text=f"check cognigy_v2.base_url (the host only), or use {API_KEY}",
            )
        if response.status not in (400, 401, 403):
            return error
        refused = AuthError(**{f.name: getattr(error, f.name) for f in dataclasses.fields(error)})
        return dataclasses.replace(
            refused,
            message_text="the service refused the OAuth2 client credentials",
            hint_text=_CREDENTIALS_HINT,
        )

"""cognigy-v1's early token request, sent before the heavy imports of `ci-trainer run`.

Loading the pipeline (pydantic models, config modules) takes ~0.2 s before the first
request could leave. `ci_trainer.startup` asks this backend's plug-in to `prefetch` right
after the CLI parsed its arguments: a daemon thread sends the client-credentials request
through the one HTTP client and policy (ci_trainer.http: its timeouts and headers, no
redirects, no netrc), with a single attempt, while the rest loads. `ClientCredentials`
then `claim`s the answer for its first token instead of asking again; the token goes
through the same Redactor registration (`::add-mask::`), contract check and scope check
as one it fetched itself.

A prefetch only ever saves time: anything but a 2xx answer (or a 2xx answer that fails
the checks) is dropped and the normal path sends the request again, so the user sees
exactly the errors they would see without it. Nothing here logs, prints or raises.

This module imports only the standard library and light `ci_trainer` modules;
`requests` and the HTTP client load inside the functions that use them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from ci_trainer.http.base_url import usable_base_url
from ci_trainer.http.policy import RetryPolicy

# The scopes a run needs (auth.py asks for them).
REQUIRED_SCOPES: tuple[str, ...] = ("model:read", "model:write", "training:read", "training:write")
TOKEN_PATH = "/auth/token"  # noqa: S105 - a URL path, not a password
# The run's policy with one attempt: a failed prefetch is dropped, never repeated.
POLICY = RetryPolicy(max_attempts=1)
_CONFIG_READ_LIMIT = 1 << 20  # the config loader's own size limit
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class PrefetchKey:
    """What the token request was for; a claim must match it exactly."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = REQUIRED_SCOPES


@dataclass(frozen=True)
class PrefetchedAnswer:
    """The service's 2xx answer to the early token request."""

    status: int
    headers: dict[str, str]
    content: bytes = field(repr=False)
    received_at: float  # time.monotonic() when the answer was complete


class TokenPrefetch:
    """One token request in a daemon thread; `answer` waits for its 2xx answer."""

    def __init__(self, key: PrefetchKey) -> None:
        self.key = key
        self._done = threading.Event()
        self._answer: PrefetchedAnswer | None = None

    def start(self) -> TokenPrefetch:
        threading.Thread(target=self._send, name="ci-trainer-token-prefetch", daemon=True).start()
        return self

    def answer(
        self, timeout: float = POLICY.connect_timeout + POLICY.read_timeout + 1.0
    ) -> PrefetchedAnswer | None:
        """The 2xx answer; None when the request failed, answered otherwise or is late."""
        self._done.wait(timeout)
        return self._answer

    def _send(self) -> None:
        try:
            self._answer = _request_token(self.key)
        except Exception:  # any failure means "no prefetch": the normal path asks again
            self._answer = None
        finally:
            self._done.set()


def _request_token(key: PrefetchKey) -> PrefetchedAnswer | None:
    # Here, so that importing this module stays cheap.
    from ci_trainer.http.client import Call, HttpClient
    from ci_trainer.http.policy import RetryMode
    from ci_trainer.redact import Redactor

    client = HttpClient(key.base_url, redactor=Redactor([key.client_secret]), policy=POLICY)
    try:
        response = client.send(
            Call("getToken", "POST", TOKEN_PATH),
            retry=RetryMode.CONNECT_ONLY,
            form={
                "grant_type": "client_credentials",
                "client_id": key.client_id,
                "client_secret": key.client_secret,
                "scope": " ".join(key.scopes),
            },
        )
    finally:
        client.close()
    if not response.ok:
        return None
    return PrefetchedAnswer(
        status=response.status,
        headers=dict(response.headers),
        content=response.content,
        received_at=time.monotonic(),
    )


# ------------------------------------------------------------------ the process's slot

_lock = threading.Lock()
_pending: TokenPrefetch | None = None


def start(key: PrefetchKey) -> TokenPrefetch:
    """Send the token request for `key` now; the next matching `claim` gets its answer."""
    global _pending
    prefetch = TokenPrefetch(key).start()
    with _lock:
        _pending = prefetch
    return prefetch


def claim(key: PrefetchKey) -> PrefetchedAnswer | None:
    """The prefetched 2xx answer for exactly `key` (once); None otherwise."""
    global _pending
    with _lock:
        prefetch = _pending
        if prefetch is None or prefetch.key != key:
            return None
        _pending = None
    return prefetch.answer()


def discard() -> None:
    """Forget any pending prefetch (tests; a run that will not use it)."""
    global _pending
    with _lock:
        _pending = None


def start_from_env(env: Mapping[str, str]) -> TokenPrefetch | None:
    """Start the early token request when the environment holds what a v1 run will
    surely ask a token with: COGNIGY_CLIENT_ID, COGNIGY_CLIENT_SECRET and a base URL the
    resolver would accept."""
    key = key_from_env(env)
    if key is None:
        return None
    # Imported here, not in the thread: two threads importing at once would only slow
    # each other down under the GIL, and the run needs requests anyway.
    import ci_trainer.http.client  # noqa: F401

    return start(key)


def key_from_env(env: Mapping[str, str]) -> PrefetchKey | None:
    def get(name: str) -> str | None:  # as Settings.from_env reads them
        value = env.get(name, "").strip()
        return value or None

    client_id, client_secret = get("COGNIGY_CLIENT_ID"), get("COGNIGY_CLIENT_SECRET")
    base_url = usable_base_url(get("COGNIGY_TENANT"), get("COGNIGY_BASE_URL"))
    if not (client_id and client_secret and base_url):
        return None
    return PrefetchKey(base_url, client_id, client_secret)

"""An early token request, sent before the heavy imports of `ci-trainer run`.

Loading the pipeline (pydantic models, config modules) takes ~0.2 s before the first
request could leave. The CLI calls `start_from_env` right after parsing its arguments: a
daemon thread sends the client-credentials request with `requests` alone, with the HTTP
policy's timeouts and headers, no redirects and no netrc, while the rest loads.
`ClientCredentials` then `claim`s the answer for its first token instead of asking
again; the token goes through the same Redactor registration (`::add-mask::`), contract
check and scope check as one it fetched itself.

A prefetch only ever saves time: anything but a 2xx answer (or a 2xx answer that fails
the checks) is dropped and the normal path sends the request again, so the user sees
exactly the errors they would see without it. Nothing here logs, prints or raises.

This module imports only the standard library and `ci_trainer` itself (`requests` in the
thread): importing the v1 client package would load the whole client.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ci_trainer import __version__
from ci_trainer.http.loopback import base_url_problem

if TYPE_CHECKING:
    from requests import PreparedRequest

# The scopes a run needs (ci_trainer.backends.cognigy_v1.auth re-exports them as REQUIRED_SCOPES).
REQUIRED_SCOPES: tuple[str, ...] = ("model:read", "model:write", "training:read", "training:write")
# The same as RetryPolicy's defaults (a test keeps them equal).
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
TOKEN_PATH = "/auth/token"  # noqa: S105 - a URL path, not a password
ACCEPT = "application/json, application/problem+json"
# The tenant rule of ci_trainer.http.base_url (a test keeps them in step); an address it
# would reject is never sent the secret here.
_TENANT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_TENANT_URL = "https://{tenant}.cognigy.ai/api/v1"
_V2_BACKEND = re.compile(r"""^backend\s*:\s*["']?cognigy-v2\b""", re.MULTILINE)
_CONFIG_READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class PrefetchKey:
    """What the token request was for; a claim must match it exactly."""

    token_url: str
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
        self, timeout: float = CONNECT_TIMEOUT + READ_TIMEOUT + 1.0
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
    import requests  # here, so that importing this module stays cheap

    with requests.Session() as session:
        response = session.post(
            key.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": key.client_id,
                "client_secret": key.client_secret,
                "scope": " ".join(key.scopes),
            },
            headers={"User-Agent": f"ci-trainer/{__version__}", "Accept": ACCEPT},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            auth=_no_netrc,
        )
        if not 200 <= response.status_code < 300:
            return None
        return PrefetchedAnswer(
            status=response.status_code,
            headers=dict(response.headers),
            content=response.content,
            received_at=time.monotonic(),
        )


def _no_netrc(request: PreparedRequest) -> PreparedRequest:
    # An explicit (no-op) auth keeps requests from adding ~/.netrc credentials.
    return request


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


def start_from_env(env: Mapping[str, str], config_path: str | Path) -> TokenPrefetch | None:
    """Start the early token request when this run will surely ask for a v1 token.

    Needs COGNIGY_CLIENT_ID, COGNIGY_CLIENT_SECRET and a base URL the resolver would
    accept; a config that names the cognigy-v2 backend, or cannot be read, gets none.
    """
    try:
        key = key_from_env(env)
        if key is None or not _config_uses_v1(Path(config_path)):
            return None
        # Imported here, not in the thread: two threads importing at once would only
        # slow each other down under the GIL, and the run needs requests anyway.
        import requests  # noqa: F401

        return start(key)
    except Exception:  # only ever an optimisation: the normal path reports any problem
        return None


def key_from_env(env: Mapping[str, str]) -> PrefetchKey | None:
    def get(name: str) -> str | None:  # as Settings.from_env reads them
        value = env.get(name, "").strip()
        return value or None

    client_id, client_secret = get("COGNIGY_CLIENT_ID"), get("COGNIGY_CLIENT_SECRET")
    base_url = safe_base_url(get("COGNIGY_TENANT"), get("COGNIGY_BASE_URL"))
    if not (client_id and client_secret and base_url):
        return None
    return PrefetchKey(base_url + TOKEN_PATH, client_id, client_secret)


def safe_base_url(tenant: str | None, base_url: str | None) -> str | None:
    """What `resolve_base_url` returns for these, or None where it would refuse them."""
    if base_url:
        url = base_url.strip()
        return None if base_url_problem(url) else url.rstrip("/")
    if tenant and _TENANT.match(tenant.strip()):
        return _TENANT_URL.format(tenant=tenant.strip().lower())
    return None


def _config_uses_v1(path: Path) -> bool:
    with path.open("rb") as stream:
        text = stream.read(_CONFIG_READ_LIMIT).decode("utf-8", errors="replace")
    return _V2_BACKEND.search(text) is None


# Modules only the end of a run needs (numpy through the gate, jsonschema through the
# audit, the report). Imported while the training runs, they are ready when it ends.
_LATE_MODULES = ("ci_trainer.gate", "ci_trainer.audit", "ci_trainer.webhook", "ci_trainer.report")


def warm_up_late_imports() -> None:
    """Import `_LATE_MODULES` in a daemon thread while the service trains."""
    # Imported here so this function stays one self-contained block at the end of the module.
    import importlib
    import logging

    log = logging.getLogger("ci_trainer")

    def load() -> None:
        for name in _LATE_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # the real import later reports any problem properly
                log.debug("warming up %s failed", name, exc_info=True)

    threading.Thread(target=load, name="ci-trainer-warm-up", daemon=True).start()

"""An early token request, sent before the heavy imports of `ci-trainer run`.

Loading the pipeline (pydantic models, config modules) takes ~0.2 s before the first
request could leave. The CLI calls `start_from_env` right after parsing its arguments: a
daemon thread sends the client-credentials request through the one HTTP client and
policy (ci_trainer.http: its timeouts and headers, no redirects, no netrc), with a single
attempt, while the rest loads. `ClientCredentials` then `claim`s the answer for its
first token instead of asking again; the token goes through the same Redactor
registration (`::add-mask::`), contract check and scope check as one it fetched itself.

A prefetch only ever saves time: anything but a 2xx answer (or a 2xx answer that fails
the checks) is dropped and the normal path sends the request again, so the user sees
exactly the errors they would see without it. Nothing here logs, prints or raises.

Which backend the config names is read with the config loader's own YAML composer
(PyYAML's safe loader), not a pattern: the full loader (pydantic) would cost the time
the prefetch saves. The answer is the registry's: the config's `backend`, else
`DEFAULT_BACKEND`. Anything unusual (a merge key, a repeated key, a value that is not a
plain string, a file that does not parse) means no prefetch; the full loader then
reports the problem.

This module imports only the standard library and light `ci_trainer` modules;
`requests`, `yaml` and the HTTP client load inside the functions that use them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci_trainer.backends import DEFAULT_BACKEND
from ci_trainer.backends.cognigy_v1 import NAME as V1_BACKEND
from ci_trainer.http.base_url import usable_base_url
from ci_trainer.http.policy import RetryPolicy

# The scopes a run needs (ci_trainer.backends.cognigy_v1.auth re-exports them as REQUIRED_SCOPES).
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


def start_from_env(env: Mapping[str, str], config_path: str | Path) -> TokenPrefetch | None:
    """Start the early token request when this run will surely ask for a v1 token.

    Needs COGNIGY_CLIENT_ID, COGNIGY_CLIENT_SECRET and a base URL the resolver would
    accept, and a config whose backend is surely cognigy-v1.
    """
    try:
        key = key_from_env(env)
        if key is None or config_backend(Path(config_path)) != V1_BACKEND:
            return None
        # Imported here, not in the thread: two threads importing at once would only
        # slow each other down under the GIL, and the run needs requests anyway.
        import ci_trainer.http.client  # noqa: F401

        return start(key)
    except Exception:  # only ever an optimisation: the normal path reports any problem
        return None


def key_from_env(env: Mapping[str, str]) -> PrefetchKey | None:
    def get(name: str) -> str | None:  # as Settings.from_env reads them
        value = env.get(name, "").strip()
        return value or None

    client_id, client_secret = get("COGNIGY_CLIENT_ID"), get("COGNIGY_CLIENT_SECRET")
    base_url = usable_base_url(get("COGNIGY_TENANT"), get("COGNIGY_BASE_URL"))
    if not (client_id and client_secret and base_url):
        return None
    return PrefetchKey(base_url, client_id, client_secret)


def config_backend(path: Path) -> str | None:
    """The backend the config at `path` names (the registry's default when it names
    none), or None when that cannot be told for sure without the full loader."""
    import yaml

    # The loader the config loader composes with (ci_trainer.config.yamltree).
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as stream:
        raw = stream.read(_CONFIG_READ_LIMIT + 1)
    if len(raw) > _CONFIG_READ_LIMIT:
        return None
    try:
        root = yaml.compose(raw.decode("utf-8-sig"), Loader=loader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    named = [
        (key.value, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode) and key.value in ("backend", "<<")
    ]
    if not named:
        return DEFAULT_BACKEND
    # A merge key or a repeated key could change the answer: the full loader decides.
    if len(named) != 1 or named[0][0] != "backend":
        return None
    value = named[0][1]
    if not isinstance(value, yaml.ScalarNode) or value.tag != _STR_TAG:
        return None
    return str(value.value)


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

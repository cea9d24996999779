"""`cognigy-v1`: the tutorial's REST contract (openapi.yaml), its client and its emulator.

The plug-in functions the registry (`ci_trainer.backends`) calls; heavy parts are
imported when a run uses them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from ci_trainer.backends import BackendRequest, EmulatorRun
    from ci_trainer.backends.base import Backend
    from ci_trainer.config import LoadedConfig
    from ci_trainer.emulator.tls import TlsFiles
    from ci_trainer.settings import Settings

NAME = "cognigy-v1"


def missing_credentials(settings: Settings) -> list[str]:
    """OAuth2 client credentials and where the service lives."""
    missing = [
        name
        for name, value in (
            ("COGNIGY_CLIENT_ID", settings.client_id),
            ("COGNIGY_CLIENT_SECRET", settings.client_secret),
        )
        if not value
    ]
    if not (settings.tenant or settings.base_url):
        missing.append("COGNIGY_TENANT or COGNIGY_BASE_URL")
    return missing


def given_credentials(settings: Settings) -> list[str]:
    """Which of the four settings a v1 run needs are set (the tenant counts: a run that
    names its service but lacks the client is a mistake, not a fork)."""
    return [
        name
        for name, value in (
            ("COGNIGY_TENANT", settings.tenant),
            ("COGNIGY_BASE_URL", settings.base_url),
            ("COGNIGY_CLIENT_ID", settings.client_id),
            ("COGNIGY_CLIENT_SECRET", settings.client_secret),
        )
        if value
    ]


def prefetch(env: Mapping[str, str]) -> bool:
    """Send the OAuth2 token request now, from a thread (see `token_prefetch.py`)."""
    from ci_trainer.backends.cognigy_v1 import token_prefetch

    return token_prefetch.start_from_env(env) is not None


def build(request: BackendRequest) -> Backend:
    from ci_trainer.backends.cognigy_v1.backend import CognigyV1Backend
    from ci_trainer.backends.cognigy_v1.client import id_problem
    from ci_trainer.http.base_url import resolve_base_url

    settings = request.settings
    problem = id_problem(request.model_id)
    if problem is not None:
        raise _model_id_error(request, problem)
    return CognigyV1Backend(
        resolve_base_url(settings.tenant, settings.base_url),
        settings.client_id or "",
        settings.client_secret or "",
        request.model_id,
        request.redactor,
        policy=request.retry_policy,
        wait=request.wait,
    )


def _model_id_error(request: BackendRequest, problem: str) -> Exception:
    """The model id goes into every path: a bad one is the user's mistake (invalid), at
    its line in the config, or naming COGNIGY_MODEL_ID when that set it."""
    from ci_trainer.config.messages import issue_at
    from ci_trainer.errors import ConfigError, ConfigIssue

    hint = "use the model's id as the training service shows it"
    if request.settings.model_id:
        message = f"COGNIGY_MODEL_ID {problem}"
        return ConfigError([ConfigIssue("COGNIGY_MODEL_ID", None, None, "", message, hint)])
    loaded = request.loaded
    issue = issue_at(str(loaded.path), loaded.marks, ("model", "id"), problem, hint)
    return ConfigError([issue])


@contextmanager
def emulate(loaded: LoadedConfig, settings: Settings) -> Iterator[EmulatorRun]:
    from ci_trainer.backends import EmulatorRun
    from ci_trainer.backends.cognigy_v1.emulator.kept_state import KeptProduction
    from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
    from ci_trainer.emulator.state_folder import StateFolder, folder_for

    folder = StateFolder(folder_for(settings.emulator_state, loaded.path), NAME)
    if settings.emulator_reset:
        folder.reset()
    kept = KeptProduction(folder, settings.model_id_for(loaded))
    with Emulator.from_loaded(loaded) as served:
        kept.prepare(served.service, loaded)
        try:
            yield EmulatorRun(
                base_url=served.base_url,
                secret=served.client_secret,
                settings=replace(
                    settings,
                    base_url=served.base_url,
                    tenant=None,
                    client_id=served.client_id,
                    client_secret=served.client_secret,
                ),
                description=f"emulator serving {served.base_url}",
                notes=tuple(kept.notes),
            )
        finally:
            kept.save(served.service)


def serve(
    loaded: LoadedConfig,
    args: argparse.Namespace,
    env: Mapping[str, str],
    out: TextIO,
    tls: TlsFiles | None,
) -> int:
    from ci_trainer.backends.cognigy_v1.emulator.cli import serve as serve_personality

    return serve_personality(loaded, args, env, out, tls)

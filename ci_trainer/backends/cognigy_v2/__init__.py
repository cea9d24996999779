"""`cognigy-v2`: Cognigy.AI REST API v2.0, its client and its emulator personality.

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

NAME = "cognigy-v2"


def missing_credentials(settings: Settings) -> list[str]:
    """An API key or OAuth2 client credentials (the base URL may come from the config's
    cognigy_v2 section). Both at once is refused, as `build` does; here that counts as
    having credentials, so the run goes on to `build` and ends `invalid` saying so."""
    from ci_trainer.backends.cognigy_v2.auth import CredentialsConflict, credentials_rule

    try:
        return credentials_rule(settings.api_key, settings.client_id, settings.client_secret)
    except CredentialsConflict:
        return []


def given_credentials(settings: Settings) -> list[str]:
    """Which credentials are set (the base URL is the config's, not a credential)."""
    return [
        name
        for name, value in (
            ("COGNIGY_API_KEY", settings.api_key),
            ("COGNIGY_CLIENT_ID", settings.client_id),
            ("COGNIGY_CLIENT_SECRET", settings.client_secret),
        )
        if value
    ]


def prefetch(env: Mapping[str, str]) -> bool:
    """Nothing to send early: the v2 token request waits for the config's base URL."""
    return False


def build(request: BackendRequest) -> Backend:
    from ci_trainer.backends.cognigy_v2.auth import ClientSecret, credentials_rule
    from ci_trainer.backends.cognigy_v2.backend import backend_from_config
    from ci_trainer.backends.cognigy_v2.options import run_label, v2_section

    settings = request.settings
    credentials_rule(settings.api_key, settings.client_id, settings.client_secret)  # conflict
    client = None
    if not settings.api_key and settings.client_id and settings.client_secret:
        scope = v2_section(request.loaded).oauth2_scope
        client = ClientSecret(settings.client_id, settings.client_secret, scope)
    return backend_from_config(
        request.loaded,
        api_key=settings.api_key,
        client=client,
        base_url=settings.base_url,
        redactor=request.redactor,
        run_label=run_label(settings.provenance),
        wait=request.wait,
        policy=request.retry_policy,
        artifact_dir=settings.artifact_dir(request.loaded),
    )


@contextmanager
def emulate(loaded: LoadedConfig, settings: Settings) -> Iterator[EmulatorRun]:
    from ci_trainer.backends import EmulatorRun
    from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator

    with V2Emulator.from_loaded(loaded) as served:
        yield EmulatorRun(
            base_url=served.base_url,
            secret=served.api_key,
            # The emulator's own key; client credentials meant for a tenant are dropped,
            # or the run would see both kinds and refuse them.
            settings=replace(
                settings,
                base_url=served.base_url,
                api_key=served.api_key,
                client_id=None,
                client_secret=None,
            ),
            description=f"v2 emulator serving {served.base_url}"
            + (
                " (it starts afresh on every run: --emulator-state and --emulator-reset are "
                "for cognigy-v1's emulator)"
                if settings.emulator_state or settings.emulator_reset
                else ""
            ),
        )


def serve(
    loaded: LoadedConfig,
    args: argparse.Namespace,
    env: Mapping[str, str],
    out: TextIO,
    tls: TlsFiles | None,
) -> int:
    from ci_trainer.backends.cognigy_v2.emulator.cli import serve as serve_personality

    return serve_personality(loaded, args, env, out, tls)

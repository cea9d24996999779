"""`ci-trainer emulator` for a `backend: cognigy-v2` config: the v2 personality."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TextIO

from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.config import LoadedConfig
from ci_trainer.emulator.cli import announce_tls, warn_if_exposed
from ci_trainer.emulator.serving import serve_until_stopped
from ci_trainer.emulator.tls import TlsFiles
from ci_trainer.errors import CiTrainerError


def serve(
    loaded: LoadedConfig,
    args: argparse.Namespace,
    env: Mapping[str, str],
    out: TextIO,
    tls: TlsFiles | None,
) -> int:
    """Serve the config's project, flows and locales until SIGINT or SIGTERM; the exit code.

    COGNIGY_API_KEY, when set, is the key the emulator accepts (and is not printed);
    otherwise one is generated and printed for this loopback emulator. The same goes for
    the OAuth2 client it also accepts: COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET.
    """
    client: dict[str, str] = {}
    if env.get("COGNIGY_CLIENT_ID"):
        client["client_id"] = env["COGNIGY_CLIENT_ID"]
    if env.get("COGNIGY_CLIENT_SECRET"):
        client["client_secret"] = env["COGNIGY_CLIENT_SECRET"]
    try:
        emulator = V2Emulator.from_loaded(
            loaded,
            api_key=env.get("COGNIGY_API_KEY") or None,
            **client,
            host=args.host,
            port=args.port,
            workers=getattr(args, "workers", 2),
            tls=tls,
        )
    except CiTrainerError as exc:
        print(f"ci-trainer emulator: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"ci-trainer emulator: {exc}", file=sys.stderr)
        return 2
    generated = not env.get("COGNIGY_API_KEY")
    secret_given = bool(env.get("COGNIGY_CLIENT_SECRET"))

    def announce() -> None:
        _announce(emulator, out, generated=generated)
        print(f"COGNIGY_CLIENT_ID={emulator.client_id}", file=out)
        if secret_given:
            print("client secret: COGNIGY_CLIENT_SECRET from the environment", file=out)
        else:
            print(f"COGNIGY_CLIENT_SECRET={emulator.client_secret}", file=out)
        print("stop with Ctrl-C", file=out, flush=True)

    return serve_until_stopped(emulator, announce)


def _announce(emulator: V2Emulator, out: TextIO, *, generated: bool) -> None:
    print(f"ci-trainer emulator (Cognigy.AI REST API v2.0) serving {emulator.base_url}", file=out)
    warn_if_exposed(emulator)
    print(f"COGNIGY_BASE_URL={emulator.base_url}", file=out)
    announce_tls(emulator, out)
    if generated:
        print(f"COGNIGY_API_KEY={emulator.api_key}", file=out)
    else:
        print("API key: COGNIGY_API_KEY from the environment", file=out)

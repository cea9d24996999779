"""`ci-trainer emulator` for a `backend: cognigy-v1` config: the seed contract's personality."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TextIO

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.config import LoadedConfig
from ci_trainer.emulator.cli import announce_tls, log_requests, warn_if_exposed
from ci_trainer.emulator.ratelimit import RateLimit
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
    """Serve the config's datasets until SIGINT or SIGTERM; the process exit code.

    COGNIGY_CLIENT_ID / COGNIGY_CLIENT_SECRET, when both are set, are the credentials the
    emulator accepts; otherwise a pair is generated and printed.
    """
    try:
        emulator = _emulator(loaded, args, env, tls)
    except CiTrainerError as exc:
        print(f"ci-trainer emulator: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"ci-trainer emulator: {exc}", file=sys.stderr)
        return 2
    return serve_until_stopped(emulator, lambda: _announce_and_log(emulator, out))


def _emulator(
    loaded: LoadedConfig, args: argparse.Namespace, env: Mapping[str, str], tls: TlsFiles | None
) -> Emulator:
    rate = getattr(args, "rate_limit", None)
    return Emulator.from_loaded(
        loaded,
        client_id=env.get("COGNIGY_CLIENT_ID") or None,
        client_secret=env.get("COGNIGY_CLIENT_SECRET") or None,
        time_scale=args.time_scale,
        fault_plan=args.fault_plan,
        token_expires_in=args.token_expires_in,
        host=args.host,
        port=args.port,
        training_seconds=getattr(args, "training_seconds", None),
        rate_limit=RateLimit.parse(rate) if rate else None,
        workers=getattr(args, "workers", 2),
        tls=tls,
    )


def _announce(emulator: Emulator, out: TextIO) -> None:
    print(f"ci-trainer emulator serving {emulator.base_url}", file=out)
    warn_if_exposed(emulator)
    print(f"COGNIGY_BASE_URL={emulator.base_url}", file=out)
    announce_tls(emulator, out)
    if emulator.generated_credentials:
        # Generated per start, for this loopback emulator only; the user needs them to connect.
        print(f"COGNIGY_CLIENT_ID={emulator.client_id}", file=out)
        print(f"COGNIGY_CLIENT_SECRET={emulator.client_secret}", file=out)
    else:
        print(
            "credentials: COGNIGY_CLIENT_ID / COGNIGY_CLIENT_SECRET from the environment", file=out
        )
    for dataset_id, path in emulator.dataset_paths.items():
        print(f"dataset {dataset_id}: {path}", file=out)
    for dataset_id in emulator.unserved_datasets:
        print(
            f"warning: dataset {dataset_id} has no `path` in the config, so the emulator "
            "cannot serve it (stats 404, training 400)",
            file=sys.stderr,
        )
    print("stop with Ctrl-C", file=out, flush=True)


def _announce_and_log(emulator: Emulator, out: TextIO) -> None:
    _announce(emulator, out)
    log_requests()

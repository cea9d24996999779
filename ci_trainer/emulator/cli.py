"""`ci-trainer emulator`: serve the training service emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.ratelimit import RateLimit
from ci_trainer.emulator.serving import ServedApp, serve_until_stopped
from ci_trainer.emulator.tls import TlsFiles, certificate_names, write_test_ca
from ci_trainer.errors import CiTrainerError
from ci_trainer.http.loopback import is_loopback as _is_loopback


def serve_cli(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Start the emulator from the CLI arguments; returns the process exit code."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    from ci_trainer.backends.cognigy_v2.emulator.cli import serve_v2_if_configured

    try:
        tls = tls_from_args(args)
    except OSError as exc:
        print(f"ci-trainer emulator: --tls-dir {args.tls_dir}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a name for the certificate (--host, --tls-name)
        print(
            f"ci-trainer emulator: --host/--tls-name: {exc}; give a DNS name or an IP address",
            file=sys.stderr,
        )
        return 2
    served = serve_v2_if_configured(args, env=env, out=out, tls=tls)  # cognigy-v2 configs
    if served is not None:
        return served
    try:
        emulator = _emulator(args, env, tls)
    except CiTrainerError as exc:
        print(f"ci-trainer emulator: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"ci-trainer emulator: {exc}", file=sys.stderr)
        return 2
    return serve_until_stopped(emulator, lambda: _announce_and_log(emulator, out))


def tls_from_args(args: argparse.Namespace) -> TlsFiles | None:
    """A fresh test CA and certificate for `--tls-dir`, naming --host and every --tls-name."""
    directory = getattr(args, "tls_dir", None)
    if not directory:
        return None
    return write_test_ca(directory, certificate_names(args.host, getattr(args, "tls_name", [])))


def _emulator(args: argparse.Namespace, env: Mapping[str, str], tls: TlsFiles | None) -> Emulator:
    rate = getattr(args, "rate_limit", None)
    return Emulator.from_config(
        args.config,
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


def warn_if_exposed(emulator: ServedApp) -> None:
    """Say so when the emulator listens beyond loopback; without TLS, clients refuse it."""
    if _is_loopback(emulator.host):
        return
    if emulator.tls is None:
        print(
            f"warning: {emulator.host} is reachable from other machines and the emulator "
            "serves plain http, which clients accept only on loopback; add --tls-dir, or "
            "serve it on 127.0.0.1",
            file=sys.stderr,
        )
    else:
        print(
            f"warning: {emulator.host} is reachable from other machines; the emulator is a "
            "test service with test credentials, so keep it on a private network",
            file=sys.stderr,
        )


def announce_tls(emulator: ServedApp, out: TextIO) -> None:
    """The one file a client must trust, in the form requests reads it."""
    if emulator.tls is None:
        return
    print(f"REQUESTS_CA_BUNDLE={emulator.tls.ca.resolve()}", file=out)
    print(f"certificate names: {', '.join(emulator.tls.names)}", file=out)


def _log_requests() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("ci_trainer.emulator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _announce_and_log(emulator: Emulator, out: TextIO) -> None:
    _announce(emulator, out)
    _log_requests()

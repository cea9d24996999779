"""`ci-trainer emulator`: serve the emulator of the config's backend until SIGINT or SIGTERM.

The config is loaded once and its `backend` picks the personality through the registry;
each personality announces itself and serves (`BackendPlugin.serve`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from ci_trainer.backends import plugin
from ci_trainer.config import load_config
from ci_trainer.emulator.cli import tls_from_args
from ci_trainer.emulator.tls import TlsFiles
from ci_trainer.errors import CiTrainerError


def serve_cli(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Start the emulator from the CLI arguments; returns the process exit code."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    tls = _tls(args)
    if isinstance(tls, int):
        return tls
    try:
        loaded = load_config(args.config)
    except CiTrainerError as exc:
        print(f"ci-trainer emulator: {exc}", file=sys.stderr)
        return exc.exit_code
    return plugin(loaded.config.backend).serve(loaded, args, env, out, tls)


def _tls(args: argparse.Namespace) -> TlsFiles | int | None:
    """The certificate files for `--tls-dir`, or the exit code when they cannot be made."""
    try:
        return tls_from_args(args)
    except OSError as exc:
        print(f"ci-trainer emulator: --tls-dir {args.tls_dir}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a name for the certificate (--host, --tls-name)
        print(
            f"ci-trainer emulator: --host/--tls-name: {exc}; give a DNS name or an IP address",
            file=sys.stderr,
        )
        return 2

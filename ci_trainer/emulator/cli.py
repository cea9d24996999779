"""What every emulator personality's `ci-trainer emulator` shares: the test certificate
for `--tls-dir`, the warnings and lines every announcement has, and the request log."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TextIO

from ci_trainer.emulator.serving import ServedApp
from ci_trainer.emulator.tls import TlsFiles, certificate_names, write_test_ca
from ci_trainer.http.loopback import is_loopback as _is_loopback


def tls_from_args(args: argparse.Namespace) -> TlsFiles | None:
    """A fresh test CA and certificate for `--tls-dir`, naming --host and every --tls-name."""
    directory = getattr(args, "tls_dir", None)
    if not directory:
        return None
    return write_test_ca(directory, certificate_names(args.host, getattr(args, "tls_name", [])))


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


def log_requests() -> None:
    """Send the emulators' request log lines to stderr while serving."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("ci_trainer.emulator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

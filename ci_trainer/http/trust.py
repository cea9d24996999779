"""Which TLS certificates a run trusts, and what to tell the user when one is refused.

requests trusts certifi's bundle, or the file named by REQUESTS_CA_BUNDLE (else
CURL_CA_BUNDLE) when set: that is how a service with a private CA (an on-prem
installation, or the emulator with `--tls-dir`) is reached. A wrong path there would
otherwise surface from deep inside requests as an OSError on the first request.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path

from ci_trainer.decision import Decision
from ci_trainer.errors import CiTrainerError

# requests' order: REQUESTS_CA_BUNDLE wins, CURL_CA_BUNDLE is the fallback.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

TLS_HINT = (
    "the service's certificate is not one this runner trusts, or does not name the host in "
    "COGNIGY_BASE_URL; for a service with a private CA, set REQUESTS_CA_BUNDLE (in the "
    "step's env) to a PEM file with that CA"
)


class CaBundleError(CiTrainerError):
    """REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE cannot be used (a user's mistake: exit 2)."""

    decision = Decision.INVALID


def check_ca_bundle(env: Mapping[str, str]) -> Path | None:
    """The CA bundle requests will use instead of its own, after checking it loads."""
    for name in CA_BUNDLE_VARIABLES:
        value = env.get(name, "")
        if value:
            return _checked(name, Path(value))
    return None


def _checked(name: str, path: Path) -> Path:
    fix = (
        f"set {name} to a PEM file holding your service's CA certificate (absolute, or "
        "relative to the working directory), or unset it to trust the public CAs"
    )
    if path.is_dir():
        return path  # requests passes a directory on as a c_rehash-style CA path
    if not path.is_file():
        msg = f"{name} names {str(path)!r}, which does not exist"
        raise CaBundleError(msg, hint=fix)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        msg = f"{name} names {str(path)!r}, which holds no usable PEM certificate ({exc})"
        raise CaBundleError(msg, hint=fix) from None
    return path


def tls_problem(exc: BaseException) -> str:
    """What certificate verification said ("IP address mismatch ..."), from the innermost
    ssl error of a requests/urllib3 exception chain; requests' own text repeats the URL."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    found: ssl.SSLError | None = None
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {item.verify_message}"
        if isinstance(item, ssl.SSLError):
            found = item
        pending.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        pending.extend(item.args)
    if found is not None:
        return str(found.reason or type(found).__name__)
    return "TLS error"

"""A throwaway certificate authority, so the emulator can serve https.

A container action does not share the runner's loopback, and the client sends
credentials over plain http only to loopback hosts. To reach an emulator on the runner's
own address, the emulator needs a certificate the client trusts: a fresh CA is made for
each start, it signs one server certificate for the names given, and its private key is
never written anywhere, so nothing else can ever be signed by it. Clients trust `ca.pem`
(REQUESTS_CA_BUNDLE); nothing else on the machine changes.

The certificates follow the rules strict X.509 verification checks (Python 3.13's
default context sets VERIFY_X509_STRICT): a CA with critical basic constraints and key
usage, subject and authority key identifiers, and names only in subjectAltName.
`cryptography` is imported only when a CA is made: an emulator without TLS starts
without it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

# Checked for CA/Browser-style validity: the emulator lives for one job, a day is plenty.
VALIDITY = timedelta(days=1)
# A clock a few minutes behind the runner's must still accept the certificate.
CLOCK_SKEW = timedelta(minutes=5)
# Always in the certificate, so a client on the same machine can use either.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for one emulator start: what clients trust, and what the server serves."""

    ca: Path
    cert: Path
    key: Path
    names: tuple[str, ...]

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        return context


def certificate_names(host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The names a certificate for an emulator on `host` must carry, without repeats.

    A wildcard bind address (0.0.0.0, ::) is not a name anyone connects to; clients use
    one of `extra` (the runner's address) or loopback.
    """
    wanted = [name.strip() for name in (*extra, host) if name.strip()]
    wanted = [name for name in wanted if name not in ("0.0.0.0", "::", "")]  # noqa: S104
    names: list[str] = []
    for name in (*wanted, *LOOPBACK_NAMES):
        normal = _normal(name)
        if normal not in names:
            names.append(normal)
    return tuple(names)


def write_test_ca(directory: str | Path, names: Iterable[str]) -> TlsFiles:
    """Make a fresh CA and a server certificate for `names` (DNS names or IP addresses)
    and write `ca.pem`, `cert.pem` and `key.pem` (mode 0600) into `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    wanted = tuple(dict.fromkeys(_normal(name) for name in names))
    for name in wanted:
        if _ip(name) is None and not _HOST_NAME.fullmatch(name):
            msg = f"{name!r} is neither an IP address nor a host name"
            raise ValueError(msg)
    if not wanted:
        msg = "a certificate needs at least one host name or IP address"
        raise ValueError(msg)
    now = datetime.now(timezone.utc)
    start, end = now - CLOCK_SKEW, now + VALIDITY

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ci-trainer emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"test CA {secrets.token_hex(4)}"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in wanted:
        address = _ip(name)
        alt_names.append(x509.IPAddress(address) if address else x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wanted[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca=folder / "ca.pem", cert=folder / "cert.pem", key=folder / "key.pem", names=wanted
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(files.key, key_pem)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return files


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates; a server key signs its TLS handshakes (ECDSA)."""
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only, also when the file existed before."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def _normal(name: str) -> str:
    """IP addresses in their canonical text; DNS names in lower case without a final dot."""
    address = _ip(name.strip())
    if address is not None:
        return str(address)
    return name.strip().lower().rstrip(".")

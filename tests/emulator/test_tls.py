"""The emulator over https (`--tls-dir`): a fresh test CA, verified as strictly as Python
can, reachable on an address other than loopback, and trusted through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import ipaddress
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from cryptography import x509

from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.tls import TlsFiles, certificate_names, write_test_ca
from ci_trainer.errors import ApiError
from ci_trainer.redact import Redactor

from .conftest import REPO, SAMPLE_CONFIG
from .test_cli import _env, serving

CLIENT_ID, CLIENT_SECRET = "tls-client", "tls-secret-8c1e5d"


def outward_address() -> str | None:
    """This machine's address for outgoing traffic (no packet is sent), if not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # TEST-NET-1: only the route is looked up
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


def strict_context(ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default; 3.11 opts in
    return context


def status_over_tls(host: str, port: int, context: ssl.SSLContext, server_name: str) -> int:
    """The HTTP status of GET / over a TLS connection that checks `server_name`."""
    raw = socket.create_connection((host, port), timeout=10)
    with context.wrap_socket(raw, server_hostname=server_name) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n\r\n")
        head = tls.recv(64).decode("ascii", "replace")
    return int(head.split()[1])


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return write_test_ca(tmp_path / "tls", certificate_names("127.0.0.1", ["emulator.test"]))


@pytest.fixture
def emulator(tls: TlsFiles) -> Iterator[Emulator]:
    with Emulator.from_config(
        SAMPLE_CONFIG, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=tls
    ) as running:
        yield running


def test_the_certificate_names_the_host_and_loopback_and_nothing_else(tls: TlsFiles) -> None:
    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["emulator.test", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ca = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.issuer == ca.subject
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < timedelta(days=2)


def test_only_the_server_key_is_written_and_only_its_owner_reads_it(tls: TlsFiles) -> None:
    assert sorted(path.name for path in tls.ca.parent.iterdir()) == [
        "ca.pem",
        "cert.pem",
        "key.pem",
    ]
    assert tls.key.stat().st_mode & 0o777 == 0o600
    # the CA's private key exists only in memory: nothing else can be signed by it
    for path in (tls.ca, tls.cert):
        assert b"PRIVATE KEY" not in path.read_bytes()
    # a second start makes a new CA, so an old ca.pem stops being trusted
    first_ca = tls.ca.read_bytes()
    again = write_test_ca(tls.ca.parent, tls.names)
    assert again.ca.read_bytes() != first_ca
    assert again.key.stat().st_mode & 0o777 == 0o600


def test_wildcard_binds_are_not_names_and_names_are_normalised() -> None:
    assert certificate_names("0.0.0.0", ["Runner.Example.", "10.1.0.4"]) == (
        "runner.example",
        "10.1.0.4",
        "localhost",
        "127.0.0.1",
        "::1",
    )
    assert certificate_names("::", []) == ("localhost", "127.0.0.1", "::1")
    assert certificate_names("[::1]", ["127.0.0.1"]) == ("127.0.0.1", "::1", "localhost")


def test_a_name_that_is_neither_host_nor_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'bad name!' is neither an IP address nor a host name"):
        write_test_ca(tmp_path, ["bad name!"])
    with pytest.raises(ValueError, match="at least one"):
        write_test_ca(tmp_path, [])


def test_strict_verification_accepts_the_emulator(emulator: Emulator, tls: TlsFiles) -> None:
    assert emulator.base_url.startswith("https://127.0.0.1:")
    context = strict_context(tls.ca)
    assert status_over_tls("127.0.0.1", emulator.port, context, "127.0.0.1") == 404
    assert status_over_tls("127.0.0.1", emulator.port, context, "emulator.test") == 404


def test_a_name_not_in_the_certificate_is_refused(emulator: Emulator, tls: TlsFiles) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        status_over_tls("127.0.0.1", emulator.port, strict_context(tls.ca), "other.test")


def test_the_client_trusts_the_emulator_only_through_requests_ca_bundle(
    emulator: Emulator, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = TrainingClient(emulator.base_url, CLIENT_ID, CLIENT_SECRET, redactor=Redactor())
    with client, pytest.raises(ApiError) as refused:
        client.token()
    text = str(refused.value)
    assert "TLS handshake with 127.0.0.1:" in text
    assert "certificate verify failed: unable to get local issuer certificate" in text
    assert "REQUESTS_CA_BUNDLE" in text
    assert "HTTPSConnectionPool" not in text  # requests' wording, with the URL, stays out

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca))
    with TrainingClient(emulator.base_url, CLIENT_ID, CLIENT_SECRET, redactor=Redactor()) as client:
        assert client.token().access_token
        assert client.dataset_stats("ds-customer-service").intent_count == 13


def test_serves_https_on_an_address_other_than_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    files = write_test_ca(tmp_path / "tls", certificate_names(address))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(files.ca))
    with Emulator.from_config(
        SAMPLE_CONFIG, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, host=address, tls=files
    ) as running:
        assert running.base_url.startswith(f"https://{address}:")
        with TrainingClient(
            running.base_url, CLIENT_ID, CLIENT_SECRET, redactor=Redactor()
        ) as client:
            assert client.token().access_token


def test_the_v2_emulator_serves_https_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
    from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator

    files = write_test_ca(tmp_path / "tls", certificate_names("127.0.0.1"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(files.ca))
    with V2Emulator(api_key="v2-tls-key", tls=files) as running:
        assert running.base_url.startswith("https://127.0.0.1:")
        client = CognigyV2Client(running.base_url, "v2-tls-key", redactor=Redactor())
        with client, pytest.raises(ApiError) as missing:
            client.read_project("0" * 24)
    assert missing.value.status == 404  # an answer from the service, not a TLS failure


def test_the_cli_serves_https_and_says_which_file_to_trust(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    args = ("--config", str(SAMPLE_CONFIG), "--tls-dir", str(tls_dir), "--tls-name", "ci.test")
    with serving(*args) as (process, printed):
        base = printed["COGNIGY_BASE_URL"]
        assert base.startswith("https://127.0.0.1:") and base.endswith("/api/v1")
        assert printed["REQUESTS_CA_BUNDLE"] == str((tls_dir / "ca.pem").resolve())
        assert "certificate names: ci.test, 127.0.0.1, localhost, ::1\n" in printed["lines"]
        port = int(base.split(":")[2].split("/")[0])
        context = strict_context(tls_dir / "ca.pem")
        assert status_over_tls("127.0.0.1", port, context, "ci.test") == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_the_cli_refuses_a_bad_certificate_name(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ci_trainer",
            "emulator",
            "--port",
            "0",
            "--config",
            str(SAMPLE_CONFIG),
            "--tls-dir",
            str(tmp_path),
            "--tls-name",
            "a b",
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--host/--tls-name: 'a b' is neither an IP address nor a host name" in result.stderr
    assert "Traceback" not in result.stderr

"""Private CAs: REQUESTS_CA_BUNDLE is checked before the first request, and a run against
a service whose certificate is not trusted says why and what to do, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from ci_trainer.audit import verify_file
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.tls import TlsFiles, certificate_names, write_test_ca
from ci_trainer.http.trust import CaBundleError, check_ca_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "trust-client", "trust-secret-51c0e2"


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return write_test_ca(tmp_path / "tls", certificate_names("127.0.0.1"))


@pytest.fixture
def emulator(tls: TlsFiles) -> Iterator[Emulator]:
    with Emulator.from_config(
        REPO_ROOT / "training-config.yaml",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        training_seconds=0.2,
        tls=tls,
    ) as running:
        yield running


def test_no_bundle_means_the_public_cas() -> None:
    assert check_ca_bundle({}) is None
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""}) is None


def test_a_bundle_that_loads_is_accepted_as_requests_would_choose_it(
    tls: TlsFiles, tmp_path: Path
) -> None:
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": str(tls.ca)}) == tls.ca
    assert check_ca_bundle({"CURL_CA_BUNDLE": str(tls.ca)}) == tls.ca
    # requests reads REQUESTS_CA_BUNDLE first; a broken CURL_CA_BUNDLE then does not matter
    both = {"REQUESTS_CA_BUNDLE": str(tls.ca), "CURL_CA_BUNDLE": str(tmp_path / "missing")}
    assert check_ca_bundle(both) == tls.ca
    # a directory is passed on as a CA path
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": str(tls.ca.parent)}) == tls.ca.parent


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "which does not exist"),
        (b"", "which holds no usable PEM certificate"),
        (
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            "which holds no usable",
        ),
    ],
)
def test_a_bundle_that_cannot_be_used_is_a_clear_input_error(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    with pytest.raises(CaBundleError) as refused:
        check_ca_bundle({"CURL_CA_BUNDLE": str(bundle)})
    error = refused.value
    assert (error.decision, error.exit_code) == ("invalid", 2)
    assert f"CURL_CA_BUNDLE names {str(bundle)!r}, {expected}" in str(error)
    assert "set CURL_CA_BUNDLE to a PEM file" in str(error)


def run_cli(tmp_path: Path, emulator: Emulator, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "COGNIGY_", "WEBHOOK_", "REQUESTS_CA", "CURL_CA"))
    }
    environment.update(
        COGNIGY_BASE_URL=emulator.base_url,
        COGNIGY_CLIENT_ID=CLIENT_ID,
        COGNIGY_CLIENT_SECRET=CLIENT_SECRET,
        **env,
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ci_trainer",
            "run",
            "--config",
            "training-config.yaml",
            "--audit-log",
            str(tmp_path / "audit.log"),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_a_run_trusts_a_private_ca_given_in_requests_ca_bundle(
    tmp_path: Path, emulator: Emulator, tls: TlsFiles
) -> None:
    assert emulator.base_url.startswith("https://")
    result = run_cli(tmp_path, emulator, REQUESTS_CA_BUNDLE=str(tls.ca))
    assert result.returncode == 0, result.stderr
    assert '"decision": "approved"' in (tmp_path / "out" / "outputs.json").read_text("utf-8")


def test_an_untrusted_certificate_fails_the_run_with_the_fix(
    tmp_path: Path, emulator: Emulator
) -> None:
    result = run_cli(tmp_path, emulator)
    assert result.returncode == 3
    assert "certificate verify failed: unable to get local issuer certificate" in result.stderr
    assert "set REQUESTS_CA_BUNDLE" in result.stderr
    assert "Traceback" not in result.stderr
    assert CLIENT_SECRET not in result.stdout + result.stderr
    assert verify_file(tmp_path / "audit.log").ok


def test_a_missing_bundle_is_invalid_before_any_request(tmp_path: Path, emulator: Emulator) -> None:
    result = run_cli(tmp_path, emulator, REQUESTS_CA_BUNDLE="certs/nope.pem")
    assert result.returncode == 2
    assert "REQUESTS_CA_BUNDLE names 'certs/nope.pem', which does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert emulator.call_count("getToken") == 0
    assert verify_file(tmp_path / "audit.log").ok

"""`ci-trainer emulator` as a user runs it: a subprocess that serves until SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .conftest import REPO, SAMPLE_CONFIG, check_response


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COGNIGY_")}
    env.update(extra)
    return env


@contextmanager
def serving(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """Start the CLI on a free port; yields the process and the KEY=value lines it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_trainer", "emulator", "--port", "0", *args],
        cwd=REPO,
        env=env or _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed: dict[str, str] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("stop with"):
                break
            printed.setdefault("lines", "")
            printed["lines"] += line
            key, sep, value = line.strip().partition("=")
            if sep:
                printed[key] = value
        yield process, printed
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _token(base_url: str, client_id: str, client_secret: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }
    return requests.post(f"{base_url}/auth/token", data=form, timeout=10)


def test_prints_base_url_and_generated_credentials_then_stops_on_sigterm() -> None:
    with serving("--config", str(SAMPLE_CONFIG)) as (process, printed):
        base = printed["COGNIGY_BASE_URL"]
        assert base.startswith("http://127.0.0.1:") and base.endswith("/api/v1")
        served = REPO / "datasets" / "customer_service.yaml"
        assert f"dataset ds-customer-service: {served}\n" in printed["lines"]
        token = _token(base, printed["COGNIGY_CLIENT_ID"], printed["COGNIGY_CLIENT_SECRET"])
        assert check_response("getToken", token)["token_type"] == "Bearer"
        stats = requests.get(
            f"{base}/datasets/ds-customer-service/stats",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=10,
        )
        assert check_response("getDatasetStats", stats)["intentCount"] == 13
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        log = process.stderr.read()
        assert "GET /api/v1/datasets/ds-customer-service/stats -> 200" in log
        assert token.json()["access_token"] not in log


def test_takes_credentials_from_the_environment_and_prints_no_secret() -> None:
    env = _env(COGNIGY_CLIENT_ID="ci-client", COGNIGY_CLIENT_SECRET="from-env-secret-123")
    with serving("--config", str(SAMPLE_CONFIG), env=env) as (process, printed):
        assert "COGNIGY_CLIENT_SECRET" not in printed
        assert _token(printed["COGNIGY_BASE_URL"], "ci-client", "from-env-secret-123").ok
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_warns_about_config_datasets_it_cannot_serve(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("a: [one, two]\nb: [three, four]\n", encoding="utf-8")
    config = tmp_path / "training-config.yaml"
    config.write_text(
        "version: 1\nmodel: {id: m}\ndatasets:\n  - {id: here, path: data.yaml}\n"
        "  - {id: tenant-only}\n",
        encoding="utf-8",
    )
    with serving("--config", str(config)) as (process, printed):
        assert "dataset here:" in printed["lines"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert "dataset tenant-only has no `path`" in process.stderr.read()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ci_trainer", "emulator", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_missing_config_is_exit_2_with_a_message() -> None:
    result = _run("--port", "0", "--config", "no-such-config.yaml")
    assert result.returncode == 2
    assert "no-such-config.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_fault_plan_is_exit_2_naming_the_field(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("faults:\n  - {operation: getTokn, kind: status}\n", encoding="utf-8")
    result = _run("--port", "0", "--config", str(SAMPLE_CONFIG), "--fault-plan", str(plan))
    assert result.returncode == 2
    assert "did you mean 'getToken'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_exit_3_with_advice() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _run("--port", port, "--config", str(SAMPLE_CONFIG))
    assert result.returncode == 3
    # Ours alone: werkzeug's own advice (printed before it exits) is not shown first.
    assert result.stderr == (
        f"ci-trainer emulator: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(choose another --port, or 0 for a free one)\n"
    )


def test_importing_the_emulator_does_not_import_scikit_learn() -> None:
    code = (
        "import sys, ci_trainer.emulator, ci_trainer.serve;"
        "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


def test_only_loopback_addresses_count_as_private() -> None:
    from ci_trainer.http.loopback import is_loopback as _is_loopback

    assert _is_loopback("127.0.0.1")
    assert _is_loopback("::1")
    assert _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0")
    assert not _is_loopback("192.168.1.20")


def test_the_shared_emulator_plumbing_imports_no_backend() -> None:
    # The personalities import the plumbing; the other way round would be a cycle.
    import ast

    for path in (REPO / "ci_trainer" / "emulator").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            assert not any(n.startswith("ci_trainer.backends") for n in names), path

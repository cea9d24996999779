"""`ci-trainer emulator --config <v2 config>` serves the v2 personality until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests


def test_the_emulator_command_serves_a_v2_config(repo_root: Path) -> None:
    config = repo_root / "examples/cognigy-v2/training-config.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COGNIGY_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ci_trainer", "emulator", "--config", str(config), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
        assert "Cognigy.AI REST API v2.0" in lines[0]
        values = dict(line.split("=", 1) for line in lines[1:])
        answer = requests.get(
            f"{values['COGNIGY_BASE_URL']}/new/v2.0/projects/64a1f0c2e4b0a1b2c3d4e5f6",
            headers={"X-API-Key": values["COGNIGY_API_KEY"], "Accept": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200
        # The OAuth2 client it accepts too (C8), announced the same way.
        client = dict(process.stdout.readline().strip().split("=", 1) for _ in range(2))
        token = requests.post(
            f"{values['COGNIGY_BASE_URL']}/auth/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["COGNIGY_CLIENT_ID"],
                "client_secret": client["COGNIGY_CLIENT_SECRET"],
            },
            timeout=10,
        ).json()
        with_token = requests.get(
            f"{values['COGNIGY_BASE_URL']}/new/v2.0/projects/64a1f0c2e4b0a1b2c3d4e5f6",
            headers={"Authorization": f"{token['token_type']} {token['access_token']}"},
            timeout=10,
        )
        assert with_token.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        # communicate() drains both pipes, so a chatty child can never block on a full one.
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"the emulator did not stop on SIGTERM; stderr:\n{err}") from None
        assert process.returncode == 0, err

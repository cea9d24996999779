"""Some credentials but not all is a mistake, not the fork case (issue 15 item 3): a
misnamed secret on main must not give a green run that trained nothing. No credential at
all stays `skipped`; a partial set is `invalid` (exit 2), naming what is missing, and
the run is audited as every other."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci_trainer.decision import Decision
from ci_trainer.result import Mode

from .conftest import Harness
from .test_decisions import audit_records

TENANT = "acme"
CLIENT_ID = "partial-client-id"
CLIENT_SECRET = "partial-client-secret-9f3e"


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        (
            {"COGNIGY_CLIENT_ID": CLIENT_ID, "COGNIGY_CLIENT_SECRET": CLIENT_SECRET},
            ["COGNIGY_TENANT (action input tenant) or COGNIGY_BASE_URL"],
        ),
        (
            {"COGNIGY_TENANT": TENANT},
            [
                "COGNIGY_CLIENT_ID (action input client-id)",
                "COGNIGY_CLIENT_SECRET (action input client-secret)",
            ],
        ),
        (
            {"COGNIGY_TENANT": TENANT, "COGNIGY_CLIENT_ID": CLIENT_ID},
            ["COGNIGY_CLIENT_SECRET (action input client-secret)"],
        ),
    ],
    ids=["id-and-secret-no-tenant", "tenant-only", "tenant-and-id-no-secret"],
)
@pytest.mark.parametrize("mode", [Mode.TRAIN, Mode.PROMOTE])
def test_a_partial_set_is_invalid_and_names_what_is_missing(
    harness: Harness, given: dict[str, str], missing: list[str], mode: Mode
) -> None:
    result = harness.run(harness.project(), None, mode=mode, env=given)
    assert result.decision is Decision.INVALID
    assert result.exit_code == 2
    for name in missing:
        assert name in result.reason
    for name in given:
        assert name in result.reason
    assert CLIENT_SECRET not in result.reason
    assert not [m for m in result.messages if m.title == "Training skipped"]
    [record] = audit_records(result)
    assert record["decision"] == "invalid"


def test_no_credential_at_all_is_still_the_fork_case(harness: Harness) -> None:
    result = harness.run(harness.project(), None, mode=Mode.PROMOTE)
    assert result.decision is Decision.SKIPPED
    assert result.exit_code == 0


def test_validate_mode_needs_no_credentials_so_a_partial_set_is_fine(harness: Harness) -> None:
    result = harness.run(
        harness.project(), None, mode=Mode.VALIDATE, env={"COGNIGY_TENANT": TENANT}
    )
    assert result.decision is Decision.VALIDATED


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"COGNIGY_CLIENT_ID": CLIENT_ID}, "COGNIGY_CLIENT_SECRET (action input client-secret)"),
        ({"COGNIGY_CLIENT_SECRET": CLIENT_SECRET}, "COGNIGY_CLIENT_ID (action input client-id)"),
    ],
    ids=["v2-id-without-secret", "v2-secret-without-id"],
)
def test_half_an_oauth2_client_for_cognigy_v2_is_invalid(
    tmp_path: Path, given: dict[str, str], missing: str
) -> None:
    shutil.copytree(REPO / "examples/cognigy-v2", tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNIGY_", "INPUT_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ci_trainer.cli",
            "run",
            "--config",
            "training-config.yaml",
            "--mode",
            "promote",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path / "project",
        env={**env, **given},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    [last] = [line for line in output.splitlines() if line.startswith("ci-trainer: ")]
    assert last.startswith("ci-trainer: invalid - ")
    assert missing in last
    assert CLIENT_SECRET not in output

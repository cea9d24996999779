"""Container smoke test: build the image and run it the way the runner does, on the emulator.

Slow (an image build), so it runs only when asked: CI_TRAINER_CONTAINER_TESTS=1 and the
workplace's `action-image` tool present (`.ci/run` sets both when it can).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mini_workspace import CLIENT_ID, CLIENT_SECRET, REPO, config, make_workspace, write_config

ACTION_IMAGE = Path(
    os.environ.get("CI_TRAINER_ACTION_IMAGE", REPO.parent / "shared" / "tools" / "action-image")
)

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(
        os.environ.get("CI_TRAINER_CONTAINER_TESTS") != "1" or not ACTION_IMAGE.is_file(),
        reason="set CI_TRAINER_CONTAINER_TESTS=1 (needs ../shared/tools/action-image)",
    ),
]


@pytest.fixture(scope="module")
def image() -> None:
    subprocess.run([str(ACTION_IMAGE), "build", "--repo", str(REPO)], check=True, timeout=1800)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = make_workspace(tmp_path / "workspace")
    if os.geteuid() == 0:
        # Like the runner user's checkout: not root's, so ownership hand-over shows.
        for path in (root, *root.rglob("*")):
            os.chown(path, 1001, 1001)
    return root


@pytest.fixture
def emulator(workspace: Path) -> Iterator[Any]:
    from ci_trainer.backends.cognigy_v1.emulator.server import Emulator

    with Emulator.from_config(
        workspace / "training-config.yaml",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        training_seconds=0.3,
    ) as running:
        yield running


def run_image(
    workspace: Path, emulator: Any, env: dict[str, str] | None = None, **inputs: str
) -> dict[str, Any]:
    given = {"base-url": emulator.base_url, "client-id": CLIENT_ID, "client-secret": CLIENT_SECRET}
    given.update(inputs)
    command = [str(ACTION_IMAGE), "run", "--repo", str(REPO), "--workspace", str(workspace)]
    for name, value in given.items():
        command += ["--input", f"{name}={value}"]
    for key, value in (env or {}).items():
        command += ["--env", f"{key}={value}"]
    proc = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def check_common(report: dict[str, Any], workspace: Path) -> None:
    printed = "\n".join(line for line in report["stdout"] if not line.startswith("::add-mask::"))
    assert CLIENT_SECRET not in printed + "\n".join(report["stderr"])
    assert report["stdout"][0] == f"::add-mask::{CLIENT_SECRET}"
    audit = workspace / report["outputs"]["audit-log"]
    assert audit.is_file()
    # the container runs as root; the file must belong to the workspace's owner
    assert audit.stat().st_uid == workspace.stat().st_uid
    assert Path(report["summary_path"]).read_text(encoding="utf-8").startswith("## ")


def test_image_approved_run(image: None, workspace: Path, emulator: Any) -> None:
    report = run_image(workspace, emulator)
    assert report["exit_code"] == 0, report
    outputs = report["outputs"]
    assert outputs["decision"] == "approved"
    assert outputs["status"] == "COMPLETED"
    assert outputs["training-id"] and outputs["version-id"] and outputs["f1"]
    assert json.loads(outputs["metrics"])["candidate"]["f1"] == float(outputs["f1"])
    check_common(report, workspace)


def test_image_rejected_run(image: None, workspace: Path, emulator: Any) -> None:
    write_config(workspace, config(min_f1=0.999))
    report = run_image(workspace, emulator)
    assert report["exit_code"] == 1, report
    assert report["outputs"]["decision"] == "rejected"
    assert report["outputs"]["promoted"] == "false"
    check_common(report, workspace)


def test_image_starts_whatever_path_the_workflow_sets(
    image: None, workspace: Path, emulator: Any
) -> None:
    report = run_image(workspace, emulator, env={"PATH": "utter-nonsense"}, mode="validate")
    assert report["exit_code"] == 0, report
    assert report["outputs"]["decision"] == "validated"


def test_image_trusts_a_private_ca_from_the_steps_env(image: None, workspace: Path) -> None:
    """As the CI self-test job runs it: https on this machine's own address (not
    loopback), with the CA file in the workspace and REQUESTS_CA_BUNDLE relative to it."""
    from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
    from ci_trainer.emulator.tls import certificate_names, write_test_ca

    address = outward_address()
    tls = write_test_ca(workspace / ".self-test-tls", certificate_names(address))
    with Emulator.from_config(
        workspace / "training-config.yaml",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        training_seconds=0.3,
        host=address,
        tls=tls,
    ) as running:
        assert running.base_url.startswith("https://")
        trusted = run_image(workspace, running, env={"REQUESTS_CA_BUNDLE": ".self-test-tls/ca.pem"})
        untrusted = run_image(workspace, running)
    assert trusted["exit_code"] == 0, trusted
    assert trusted["outputs"]["decision"] == "approved"
    check_common(trusted, workspace)
    assert untrusted["exit_code"] == 3, untrusted
    assert "certificate verify failed" in untrusted["outputs"]["reason"]


def outward_address() -> str:
    """This machine's address for outgoing traffic (no packet is sent); loopback if none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # TEST-NET-1: only the route is looked up
        except OSError:
            return "127.0.0.1"
        return str(probe.getsockname()[0])


def test_image_reads_the_base_through_git_in_a_workspace_of_another_uid(
    image: None, tmp_path: Path
) -> None:
    """The image has git, and git accepts the runner's workspace (owned by the runner's
    user, not the container's root): a pull request's data diff is in the summary."""
    from git_repos import DATASET, base_and_pull_request, edit_yaml, git

    from ci_trainer.backends.cognigy_v1.emulator.server import Emulator

    origin = tmp_path / "origin"
    base, _ = base_and_pull_request(
        origin, lambda p: edit_yaml(p, DATASET, lambda d: d["return_item"].append("send it back"))
    )
    workspace = tmp_path / "workspace"
    git(tmp_path, "clone", "-q", "--branch", "feature", f"file://{origin}", str(workspace))
    if os.geteuid() == 0:
        for path in (workspace, *workspace.rglob("*")):
            os.lchown(path, 1001, 1001)
    with Emulator.from_config(
        workspace / "training-config.yaml",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        training_seconds=0.3,
    ) as running:
        report = run_image(workspace, running, env={"GITHUB_BASE_REF": "main"})
    assert report["exit_code"] in (0, 1), report
    printed = "\n".join(report["stdout"])
    assert f"data diff against origin/main (merge base {base[:12]})" in printed
    summary = Path(report["summary_path"]).read_text(encoding="utf-8")
    assert "### Data diff against the base" in summary
    assert "| return\\_item | +1 \u22120 (40 → 41) |" in summary
    check_common(report, workspace)

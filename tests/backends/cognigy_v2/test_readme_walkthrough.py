"""The README's v2 walk-through, run as a reader would run it (issue 13, Must show): the
commands of its `sh` block, in a copy of examples/cognigy-v2, through the real CLI and
the embedded v2 emulator. The pull-request run ends `approved` with its export
artifacts; the main run ends `promoted`, its audit record holds the export artifacts and
the verified endpoint, and the promotion steps are the ones the README names, in order."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HEADING = "### Follow a pull request and a main run, without a tenant"


def walkthrough() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split(HEADING, 1)[1].split("\n## ", 1)[0]


def commands(section: str) -> list[list[str]]:
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert lines[0] == ["cd", "examples/cognigy-v2"]
    assert all(line[0] == "ci-trainer" for line in lines[1:])
    return lines[1:]


def promotion_steps(section: str) -> list[str]:
    """The step names the README lists, in its order."""
    sentence = section.split("the promotion\nsteps", 1)[1].split("whose detail", 1)[0]
    return re.findall(r"`([a-z][a-z -]+)`", sentence.replace("\n", " "))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("readme") / "cognigy-v2"
    shutil.copytree(REPO / "examples/cognigy-v2", workdir)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("COGNIGY_", "INPUT_", "GITHUB_"))
    }
    outputs = []
    for argv in commands(walkthrough()):
        done = subprocess.run(
            [sys.executable, "-m", "ci_trainer.cli", *argv[1:]],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        out_dir = workdir / argv[argv.index("--output-dir") + 1]
        outputs.append(json.loads((out_dir / "outputs.json").read_text(encoding="utf-8")))
    return workdir, outputs


def test_the_pull_request_run_is_approved_and_keeps_an_export_per_target(
    runs: tuple[Path, list[dict[str, str]]],
) -> None:
    workdir, (pr, _main) = runs
    assert pr["decision"] == "approved"
    exports = pr["intents-export"].splitlines()
    assert len(exports) == 3
    for path in exports:
        assert path.startswith("pr-run/cognigy-export-")
        json.loads((workdir / path).read_text(encoding="utf-8"))  # a readable export


def test_the_main_run_is_promoted_with_the_exports_and_the_verified_endpoint(
    runs: tuple[Path, list[dict[str, str]]],
) -> None:
    workdir, (_pr, main) = runs
    assert main["decision"] == "promoted" and main["promoted"] == "true"
    lines = (workdir / "cognigy_training_audit.log").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    assert record["decision"] == "promoted"
    steps = record["promotion"]["steps"]
    assert [s["name"] for s in steps] == promotion_steps(walkthrough())
    assert all(s["status"] == "done" for s in steps)
    verified = steps[-1]
    assert verified["detail"].startswith(
        f"read back: serves entrypoint {record['promotion']['versionId']}"
    )
    exports = record["intentsExports"]
    assert [e["path"] for e in exports] == main["intents-export"].splitlines()
    assert all(len(e["sha256"]) == 64 for e in exports)

"""action.yml and the code agree: every input is read, every output written, and back."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from run_results import ALL

from ci_trainer import settings
from ci_trainer.report import build_outputs

REPO = Path(__file__).resolve().parents[2]


def action_yml() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_runs_the_dockerfile_as_a_container_action() -> None:
    document = action_yml()
    assert document["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert {"icon", "color"} <= set(document["branding"])
    assert document["name"] and document["description"]


def test_every_input_is_declared_described_and_read_by_the_code() -> None:
    inputs = action_yml()["inputs"]
    assert set(inputs) == set(settings.INPUT_DEFAULTS)
    for name, spec in inputs.items():
        assert spec.get("description"), f"input {name} has no description"
        assert str(spec.get("default", "")) == settings.INPUT_DEFAULTS[name], name
        assert name == name.lower() and "_" not in name, f"input {name} is not kebab-case"


def test_the_defaults_the_issue_asks_for() -> None:
    inputs = action_yml()["inputs"]
    assert inputs["config"]["default"] == "training-config.yaml"
    assert inputs["mode"]["default"] == "train"
    assert inputs["fail-on-reject"]["default"] == "true"


def test_every_input_name_is_used_in_settings_py() -> None:
    """A declared input that no code path reads is dead; the reverse is a typo."""
    tree = ast.parse((REPO / "ci_trainer" / "settings.py").read_text(encoding="utf-8"))
    literals = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    for name in action_yml()["inputs"]:
        assert name in literals, f"input {name} is never read by ci_trainer/settings.py"
    read_directly = {"config", "mode", "audit-log", "fail-on-reject", "working-directory", "junit"}
    read_directly |= {"comment", "github-token"}
    assert set(settings.INPUT_TO_ENV) | read_directly == set(settings.INPUT_DEFAULTS)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_output_is_written_and_only_those(name: str) -> None:
    declared = set(action_yml()["outputs"])
    assert set(build_outputs(ALL[name]())) == declared


def test_outputs_are_described() -> None:
    for name, spec in action_yml()["outputs"].items():
        assert spec.get("description"), f"output {name} has no description"


def test_secret_inputs_are_the_ones_masked() -> None:
    inputs = action_yml()["inputs"]
    secret_like = {name for name in inputs if "secret" in name or name.endswith(("-key", "-token"))}
    assert secret_like == set(settings.SECRET_INPUTS)
    for name in settings.SECRET_INPUTS:
        assert "default" not in inputs[name]


def test_dockerfile_follows_the_container_action_rules() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    instructions = [
        line.split(None, 1)[0].upper()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "USER" not in instructions  # the runner's workspace would become unwritable
    from_line = next(line for line in text.splitlines() if line.startswith("FROM "))
    assert re.fullmatch(r"FROM python:3\.12(\.\d+)?-slim(-\w+)?@sha256:[0-9a-f]{64}", from_line)
    assert len(from_line.split("@sha256:", 1)[1].split()[0]) == 64
    assert 'ENTRYPOINT ["/usr/local/bin/python", "/app/entrypoint.py"]' in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "PYTHONUNBUFFERED=1" in text
    # dependencies are installed before the source is copied, from the pinned file
    assert text.index("requirements/action.txt") < text.index("COPY ci_trainer")


def test_dockerfile_installs_git_pinned_without_recommends_or_lists() -> None:
    """The data diff reads the base through git, which python slim images lack. The pin
    is chosen by Debian release: the one FROM names, and bookworm for action-image."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    [install] = [line for line in text.splitlines() if "apt-get install" in line]
    assert "rm -rf /var/lib/apt/lists/*" in install
    pins = dict(
        re.findall(
            r"(\w+)\) apt-get install --yes --no-install-recommends git=(1:\d+\.\d+\.\d+-\S+) ;;",
            install,
        )
    )
    [release] = re.findall(r"^FROM python:[\d.]+-slim-(\w+)@sha256:[0-9a-f]{64}$", text, re.M)
    assert {release, "bookworm"} <= set(pins), "pin git for the base's release and bookworm"
    assert "*) echo" in install and "exit 1" in install, "another release must fail the build"


def test_image_requirements_are_pinned_and_run_time_only() -> None:
    lines = [
        line.strip()
        for line in (REPO / "requirements" / "action.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = {line.split("==", 1)[0].lower().replace("_", "-") for line in lines}
    assert all("==" in line for line in lines)
    assert {"requests", "pydantic", "pyyaml", "jsonschema", "numpy"} <= names
    assert not names & {"werkzeug", "scikit-learn", "pytest", "hypothesis", "cmarkgfm"}


def test_dockerignore_lets_every_copied_path_through() -> None:
    """`.dockerignore` excludes everything by default; each COPY source must be re-included."""
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore
    sources = [
        line.split()[1]
        for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ")
    ]
    assert sources
    for source in sources:
        assert f"!{source}" in ignore or f"!{source}/" in ignore, source

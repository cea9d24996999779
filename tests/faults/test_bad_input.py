"""Bad input, end to end through the runner (issue 7, item 2).

The config loader's and dataset reader's own tests (tests/config, tests/checks) cover
the parsers; these runs check what a user sees: every hostile input ends in a decision
(`invalid`, exit 2) with a located message, an audit record, bounded memory and no
request to the service. Memory is traced (tracemalloc) around the whole `execute`.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_trainer.audit import verify_file
from ci_trainer.decision import Decision
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .support import FAST_HTTP, MODEL_ID, Runner, RunSpec, write_project

MEMORY_BOUND = 32 * 2**20  # bytes a rejected run may allocate at its peak
CREDENTIALS = {"COGNIGY_CLIENT_ID": "bad-input-client", "COGNIGY_CLIENT_SECRET": "bad-input-x"}

Patch = Callable[[Path], None]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid project; the working directory (the workspace) is its folder."""
    write_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(project: Path, env: dict[str, str] | None = None) -> tuple[RunResult, int]:
    """(result, peak bytes allocated during the run)."""
    settings = Settings.from_env(
        env or {},
        config_path=project / "training-config.yaml",
        output_dir=project / "out",
    )
    tracemalloc.start()
    try:
        result = execute(settings, ConsoleReporter(io.StringIO()), retry_policy=FAST_HTTP)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.audit_log is not None and verify_file(result.audit_log).ok
    return result, peak


def errors(result: RunResult) -> list[str]:
    return [
        f"{m.file}:{m.line}: {m.text}" if m.file else m.text
        for m in result.messages
        if m.level == "error"
    ]


# ------------------------------------------------------------------------- YAML bombs


def billion_laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels + 1):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def config_with(prefix: str) -> Patch:
    def patch(project: Path) -> None:
        config = project / "training-config.yaml"
        config.write_text(prefix + config.read_text(encoding="utf-8"), encoding="utf-8")

    return patch


def sparse_file(path: Path, size: int) -> None:
    """A file of `size` bytes that costs no disk: a reader must refuse it by its size."""
    with path.open("wb") as handle:
        handle.truncate(size)


def dataset_with(text: str) -> Patch:
    def patch(project: Path) -> None:
        (project / "data" / "train.yaml").write_text(text, encoding="utf-8")

    return patch


CONFIG_BOMBS: dict[str, Patch] = {
    "billion-laughs": config_with(billion_laughs()),
    "deep-flow-nesting": config_with("deep: " + "[" * 100_000 + "]" * 100_000 + "\n"),
    "deep-block-nesting": config_with(
        "".join(f"{'  ' * n}k{n}:\n" for n in range(2_000)) + f"{'  ' * 2_000}leaf: 1\n"
    ),
    "50-MB-config": lambda project: sparse_file(project / "training-config.yaml", 50 * 2**20),
}

DATASET_BOMBS: dict[str, Patch] = {
    "billion-laughs": dataset_with(billion_laughs()),
    "deep-flow-nesting": dataset_with("intent: " + "[" * 100_000 + "]" * 100_000 + "\n"),
    "65-MiB-dataset": lambda project: sparse_file(project / "data" / "train.yaml", 65 * 2**20),
}


@pytest.mark.parametrize("bomb", CONFIG_BOMBS, ids=list(CONFIG_BOMBS))
def test_config_bombs_are_invalid_in_bounded_memory(project: Path, bomb: str) -> None:
    CONFIG_BOMBS[bomb](project)
    result, peak = run(project, CREDENTIALS | {"COGNIGY_BASE_URL": "https://unused.invalid"})
    assert (result.decision, result.exit_code) == (Decision.INVALID, 2), result.reason
    assert "training-config.yaml" in result.reason
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("bomb", DATASET_BOMBS, ids=list(DATASET_BOMBS))
def test_dataset_bombs_are_invalid_in_bounded_memory(project: Path, bomb: str) -> None:
    DATASET_BOMBS[bomb](project)
    result, peak = run(project)
    assert (result.decision, result.exit_code) == (Decision.INVALID, 2), result.reason
    assert "train.yaml" in result.reason
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"


def alias_amplified_dataset(intents: int, shared: int = 100) -> str:
    """Every intent is an alias of one list of `shared` 1 KB utterances: a file of
    ~1 KB per intent that reads as `shared` KB per intent. Scaled up (20,000 intents, a
    300 KB file) it is 2 million examples and minutes of CPU: a bomb made of a PR's data."""
    texts = ", ".join(f'"{"word " * 200}{n}"' for n in range(shared))
    return f"base: &b [{texts}]\n" + "".join(f"intent_{n}: *b\n" for n in range(intents))


def test_alias_amplification_in_a_dataset_is_invalid(project: Path) -> None:
    dataset_with(alias_amplified_dataset(intents=50))(project)
    result, _ = run(project)
    assert (result.decision, result.exit_code) == (Decision.INVALID, 2), result.reason
    assert "alias" in result.reason


# ------------------------------------------------------------------------- paths


def dataset_path(value: str) -> Patch:
    def patch(project: Path) -> None:
        config = project / "training-config.yaml"
        document = json.loads(config.read_text(encoding="utf-8"))
        document["datasets"][0]["path"] = value
        config.write_text(json.dumps(document, indent=2), encoding="utf-8")

    return patch


def symlinked_file(project: Path) -> None:
    outside = project.parent / f"{project.name}-outside.yaml"
    outside.write_text((project / "data" / "train.yaml").read_text(encoding="utf-8"))
    (project / "data" / "link.yaml").symlink_to(outside)
    dataset_path("data/link.yaml")(project)


def symlinked_directory(project: Path) -> None:
    outside = project.parent / f"{project.name}-outside"
    outside.mkdir()
    (outside / "train.yaml").write_text((project / "data" / "train.yaml").read_text("utf-8"))
    (project / "shared").symlink_to(outside, target_is_directory=True)
    dataset_path("shared/train.yaml")(project)


ESCAPES: dict[str, Patch] = {
    "dot-dot": dataset_path("../outside.yaml"),
    "dot-dot-inside-a-path": dataset_path("data/../../outside.yaml"),
    "absolute": dataset_path("/etc/hostname"),
    "symlinked-file": symlinked_file,
    "symlinked-directory": symlinked_directory,
}


@pytest.mark.parametrize("escape", ESCAPES, ids=list(ESCAPES))
def test_dataset_paths_escaping_the_workspace_are_invalid(project: Path, escape: str) -> None:
    ESCAPES[escape](project)
    result, _ = run(project)
    assert (result.decision, result.exit_code) == (Decision.INVALID, 2), result.reason
    (error,) = errors(result)
    assert "training-config.yaml:" in error  # file and line of the offending path
    assert "datasets[0].path" in error and "outside the workspace" in error


# ------------------------------------------------------------------------- URLs

PLAIN_HTTP_ELSEWHERE = (
    "http://example.com/api/v1",
    "http://127.0.0.1.nip.io/api/v1",  # looks like loopback, resolves anywhere
    "http://localhost.example.com/api/v1",
    "HTTP://example.com/api/v1",
    "ftp://127.0.0.1/api/v1",
)


@pytest.mark.parametrize("url", PLAIN_HTTP_ELSEWHERE)
def test_a_non_https_base_url_is_invalid_unless_loopback(project: Path, url: str) -> None:
    result, _ = run(project, CREDENTIALS | {"COGNIGY_BASE_URL": url})
    assert (result.decision, result.exit_code) == (Decision.INVALID, 2), result.reason
    assert "COGNIGY_BASE_URL" in result.reason
    assert result.training_id is None


@pytest.mark.parametrize("url", PLAIN_HTTP_ELSEWHERE[:4])
def test_a_non_https_webhook_url_is_refused_and_the_decision_stands(
    project: Path, url: str
) -> None:
    result, _ = run(project, {"WEBHOOK_URL": url.replace("/api/v1", "/hook")})
    assert (result.decision, result.exit_code) == (Decision.SKIPPED, 0), result.reason
    assert result.webhook is not None and not result.webhook.delivered
    (warning,) = [m.text for m in result.messages if m.title == "Webhook"]
    assert "https" in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_on_loopback_is_allowed(tmp_path: Path, host: str) -> None:
    runner = Runner(tmp_path)
    try:
        outcome = runner.run(RunSpec(base_host=host))
    finally:
        runner.close()
    assert outcome.record["decision"] == "promoted", outcome.record["reason"]
    assert outcome.model_id == MODEL_ID

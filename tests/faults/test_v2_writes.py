"""The fault matrix of cognigy-v2's writes (issue 13 item 4, C1): one row per write
operation, each a whole run of the sample project (examples/cognigy-v2, with its
endpoint) against the v2 emulator over real HTTP.

Cognigy's own client never repeats a POST or PATCH on a status, and neither may we: a
502 that a gateway sends after the service applied the write ("applied") must leave
exactly one training, import, snapshot, upload, restore or endpoint change, and the run
must end as if nothing had gone wrong. A 502 on a write that was not applied is sent
once more. Each row asserts the decision and exit code, how many of the written thing
the tenant holds afterwards, and that the audit record holds the run.

docs/reliability.md holds this table rendered as Markdown (`test_doc_is_current`).
Regenerate with:  python -m tests.faults.test_v2_writes
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.decision import Decision
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .support import REPO_ROOT

API_KEY = "v2-write-faults-api-key-0c41"
FAST_HTTP = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
ENDPOINT_ID = "64a1f0c2e4b0a1b2c3d4e801"
TARGETS = 3  # the sample's flow x locale targets


@dataclass
class World:
    """One run's emulator and config, and what the rows count in it."""

    emu: V2Emulator
    config: Path
    section: dict[str, object]

    @property
    def source(self) -> str:
        return str(self.section["project_id"])

    @property
    def target(self) -> str:
        return str(self.section["promotion"]["target_project_id"])  # type: ignore[index]

    def tasks(self, kind: str) -> int:
        return sum(1 for task in self.emu.service.tasks.values() if task.type == kind)

    def snapshots(self, project: str) -> int:
        return len(self.emu.service.projects[project].snapshots)

    def patches(self) -> int:
        return sum(
            1 for r in self.emu.app.calls(f"/endpoints/{ENDPOINT_ID}") if r.method == "PATCH"
        )


@dataclass(frozen=True)
class Row:
    id: str
    fault: str  # in a reader's words
    operation: str  # the emulator's operation name
    style: str  # "applied": done, then the 502; "problem": a 502 before anything is done
    mode: Mode
    decision: Decision
    exit_code: int
    counted: str  # what is counted afterwards, in a reader's words
    count: Callable[[World], int]
    expected: int


def _promote(operation: str, what: str, count: Callable[[World], int], expected: int = 1) -> Row:
    return Row(
        f"502-applied-{operation}",
        f"502 after the service applied {operation}",
        operation,
        "applied",
        Mode.PROMOTE,
        Decision.PROMOTED,
        0,
        what,
        count,
        expected,
    )


MATRIX: list[Row] = [
    Row(
        "502-applied-importIntents",
        "502 after the service applied an intents import",
        "importIntents",
        "applied",
        Mode.TRAIN,
        Decision.APPROVED,
        0,
        "import Tasks",
        lambda w: w.tasks("importIntents"),
        TARGETS,
    ),
    Row(
        "502-applied-trainIntents",
        "502 after the service started a training",
        "trainIntents",
        "applied",
        Mode.TRAIN,
        Decision.APPROVED,
        0,
        "training Tasks",
        lambda w: w.tasks("trainIntents"),
        TARGETS,
    ),
    Row(
        "502-trainIntents",
        "502 before the service started the training",
        "trainIntents",
        "problem",
        Mode.TRAIN,
        Decision.APPROVED,
        0,
        "training Tasks",
        lambda w: w.tasks("trainIntents"),
        TARGETS,
    ),
    _promote(
        "createSnapshot", "snapshots in the training project", lambda w: w.snapshots(w.source)
    ),
    _promote(
        "uploadSnapshotPackage",
        "snapshots in the production project",
        lambda w: w.snapshots(w.target),
    ),
    _promote("restoreSnapshot", "restore Tasks", lambda w: w.tasks("restoreSnapshot")),
    _promote("updateEndpoint", "endpoint updates (PATCH)", lambda w: w.patches()),
]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    target = tmp_path / "cognigy-v2"
    shutil.copytree(REPO_ROOT / "examples/cognigy-v2", target)
    config = target / "training-config.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["training"]["poll_interval_floor_seconds"] = 0.1
    data["cognigy_v2"]["promotion"]["endpoint_id"] = ENDPOINT_ID
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    emu = V2Emulator.from_config(config, api_key=API_KEY, epochs=10)
    emu.start()
    yield World(emu, config, data["cognigy_v2"])
    emu.stop()


def _run(world: World, mode: Mode) -> RunResult:
    settings = Settings.from_env(
        {"COGNIGY_API_KEY": API_KEY, "COGNIGY_BASE_URL": world.emu.base_url},
        config_path=world.config,
        mode=mode,
    )
    return execute(settings, ConsoleReporter(), stop=threading.Event(), retry_policy=FAST_HTTP)


@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_write_fault(row: Row, world: World) -> None:
    world.emu.app.fail_next(row.operation, 502, style=row.style)
    result = _run(world, row.mode)
    assert result.decision is row.decision, (result.reason, result.error)
    assert result.exit_code == row.exit_code
    assert row.count(world) == row.expected, row.counted
    faulted = [r for r in world.emu.app.log if r.status == 502]
    assert len(faulted) == 1, "the fault was injected once and answered once"
    record = json.loads(Path(str(result.audit_log)).read_text(encoding="utf-8").splitlines()[-1])
    assert record["decision"] == row.decision.value
    if row.mode is Mode.PROMOTE:
        endpoint = world.emu.service.endpoint(ENDPOINT_ID)[1]
        served = world.emu.service.projects[world.target].snapshots
        assert endpoint.entrypoint in served, "the endpoint serves the promoted snapshot"


# ------------------------------------------------------------------------- the doc

DOC = REPO_ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- v2-write-faults:begin -->", "<!-- v2-write-faults:end -->"


def render() -> str:
    lines = [
        "| # | Fault (cognigy-v2, whole run) | Mode | Decision | Exit | Afterwards |",
        "|---|---|---|---|---|---|",
    ]
    for number, row in enumerate(MATRIX, 1):
        lines.append(
            f"| {number} | `{row.id}`: {row.fault} | {row.mode.value} | {row.decision.value} "
            f"| {row.exit_code} | exactly {row.expected} {row.counted} |"
        )
    return "\n".join(lines) + "\n"


def test_doc_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    assert text[start:end].strip("\n") + "\n" == render(), (
        "docs/reliability.md is stale: run  python -m tests.faults.test_v2_writes"
    )


def write_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + render() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    write_doc()
    sys.exit(0)

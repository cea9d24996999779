"""Whole runs with `backend: cognigy-v2` against the v2 emulator: the sample config as a
pull request (train) and on main (promote: snapshot restored into a second project)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.cli import main
from ci_trainer.decision import Decision
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.report import escape, render_summary
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

from .conftest import FAST_HTTP, SAMPLE_API_KEY, run_sample

API_KEY = SAMPLE_API_KEY


@pytest.fixture
def emu(sample_emu: V2Emulator) -> V2Emulator:
    """In this module the emulator is the sample's."""
    return sample_emu


def run(config: Path, emu: V2Emulator, mode: Mode, **env: str) -> RunResult:
    return run_sample(config, emu, mode, **env)


def test_pull_request_run_trains_every_flow_and_locale(
    project: Path, emu: V2Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    result = run(project, emu, Mode.TRAIN)
    assert result.decision is Decision.APPROVED, (result.reason, result.error)
    assert result.backend == "cognigy-v2"
    assert len(emu.app.calls("/intents/import")) == 3
    assert len(emu.app.calls("/intents/train")) == 3
    assert result.metrics is not None
    assert result.metrics.precision is None and result.metrics.recall is None
    assert {s.intent.split(":")[0] for s in result.metrics.per_intent} == {
        "flow-1/locale-1",
        "flow-1/locale-2",
        "flow-2/locale-1",
    }
    assert result.champion is None and result.champion_note  # nothing promoted yet
    assert all(check.status.value != "failed" for check in result.checks)
    assert emu.service.projects[next(iter(emu.service.projects))].snapshots == {}
    out, err = capfd.readouterr()
    assert API_KEY not in out + err


def test_main_run_promotes_a_snapshot_into_the_second_project(
    project: Path, emu: V2Emulator
) -> None:
    result = run(project, emu, Mode.PROMOTE, GITHUB_SHA="0123456789abcdef", GITHUB_RUN_ID="42")
    assert result.decision is Decision.PROMOTED, (result.reason, result.error)
    steps = [step.name for step in result.promotion.steps]
    # The sample re-points its endpoint; `promoted` rests on reading it back (C5).
    assert steps[0] == "check endpoint"
    # The endpoint served the target project itself: it is re-pointed at the complete
    # uploaded snapshot first, and the working copy restored after (issue 18).
    assert steps[-3:] == ["re-point endpoint", "restore in target project", "verify endpoint"]
    assert steps.index("check flow in snapshot") < steps.index("download package")
    assert all(step.status == "done" for step in result.promotion.steps)
    section = yaml.safe_load(project.read_text(encoding="utf-8"))["cognigy_v2"]
    target = emu.service.projects[section["promotion"]["target_project_id"]]
    [created] = [s for s in result.promotion.steps if s.name == "create snapshot"]
    assert {snap.name for snap in target.snapshots.values()} == {created.id}
    endpoint = emu.service.endpoint(section["promotion"]["endpoint_id"])[1]
    assert endpoint.entrypoint == result.promotion.version_id
    assert result.promotion.version_id in result.promotion.steps[-1].detail
    assert len(target.content.flows) == 2  # the restored flows, trained
    assert all(
        g.model is not None for f in target.content.flows.values() for g in f.groups.values()
    )
    audit = (project.parent / "cognigy_training_audit.log").read_text(encoding="utf-8")
    record = json.loads(audit.splitlines()[-1])
    assert [s["name"] for s in record["promotion"]["steps"]] == steps
    assert record["promotion"]["steps"][-1]["detail"].startswith("read back: serves entrypoint")
    # What the flows held before the overwrite imports is kept, one file per target.
    exports = record["intentsExports"]
    assert len(exports) == 3
    assert all(
        (project.parent / str(e["path"])).is_file() or Path(str(e["path"])).is_file()
        for e in exports
    )
    assert API_KEY not in audit

    # The next pull request is compared with what is now in the target project.
    again = run(project, emu, Mode.TRAIN)
    assert again.production is not None and again.production.version_id
    assert again.champion is not None, again.champion_note
    assert again.champion.n == 76


def test_a_failed_training_task_fails_the_run_with_its_reason(
    project: Path, emu: V2Emulator
) -> None:
    emu.service.fail_next_task("trainIntents", "NLU service unavailable")
    result = run(project, emu, Mode.TRAIN)
    assert result.decision is Decision.FAILED
    assert "NLU service unavailable" in result.reason


def test_a_server_error_on_train_gives_a_support_ticket_with_the_v2_calls(
    project: Path, emu: V2Emulator
) -> None:
    for _ in range(5):  # more than the client's retries
        emu.app.fail_next("trainIntents", 500)
    result = run(project, emu, Mode.TRAIN)
    assert result.decision is Decision.FAILED
    assert result.support is not None and result.support.status == 500
    payload = result.support.request_payload
    assert payload is not None and "datasetIds" not in payload  # not a v1-shaped body
    calls = payload["calls"]
    assert {call["operation"] for call in calls} <= {"importIntents", "trainIntents"}
    trained = [(c["flowId"], c["localeId"]) for c in calls if c["operation"] == "trainIntents"]
    assert len(trained) == len(set(trained)) >= 2  # every flow x locale, once


def test_without_an_api_key_the_run_only_validates(project: Path, emu: V2Emulator) -> None:
    settings = Settings.from_env({}, config_path=project, mode=Mode.TRAIN)
    result = execute(settings, ConsoleReporter(), stop=threading.Event())
    assert result.decision is Decision.SKIPPED
    needed = "COGNIGY_API_KEY (or COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET) is not set"
    assert any(needed in m.text for m in result.messages)
    assert len(emu.app.log) == 0


def test_run_with_emulator_serves_the_v2_personality(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out_dir = project.parent / "out"
    code = main(["run", "--config", str(project), "--emulator", "--output-dir", str(out_dir)])
    out, _ = capfd.readouterr()
    assert code == 0, out
    assert "approved" in out
    assert '"decision": "approved"' in (out_dir / "outputs.json").read_text(encoding="utf-8")


def test_an_unknown_target_flow_fails_the_access_check(project: Path, emu: V2Emulator) -> None:
    data = yaml.safe_load(project.read_text(encoding="utf-8"))
    data["cognigy_v2"]["targets"][0]["flow_id"] = "0" * 24
    project.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = run(project, emu, Mode.TRAIN)
    assert result.decision is Decision.FAILED
    assert result.error is not None and "not found" in result.reason


@pytest.fixture
def slow_emu(project: Path) -> Iterator[V2Emulator]:
    """Tasks wait 30 s before they run: long enough to be stopped or timed out."""
    emulator = V2Emulator.from_config(project, api_key=API_KEY, epochs=10, task_seconds=30)
    emulator.start()
    yield emulator
    emulator.stop()


def _no_import(config: Path, **training: float) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["cognigy_v2"]["import_mode"] = "none"
    data["training"].update(training)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_a_training_timeout_cancels_every_task(project: Path, slow_emu: V2Emulator) -> None:
    _no_import(project, timeout_minutes=0.01)
    result = run(project, slow_emu, Mode.TRAIN)
    assert result.decision is Decision.FAILED
    assert "did not finish" in result.reason and "cancelled" in result.reason
    assert len(slow_emu.app.calls("/cancel")) == 2  # the two live tasks; the third never started
    statuses = {task.status for task in slow_emu.service.tasks.values()}
    assert statuses <= {"cancelling", "cancelled"}


def test_sigterm_during_training_cancels_the_tasks(project: Path, slow_emu: V2Emulator) -> None:
    _no_import(project)
    stop = threading.Event()
    settings = Settings.from_env(
        {"COGNIGY_API_KEY": API_KEY, "COGNIGY_BASE_URL": slow_emu.base_url},
        config_path=project,
        mode=Mode.TRAIN,
    )
    threading.Timer(1.0, stop.set).start()
    result = execute(settings, ConsoleReporter(), stop=stop, retry_policy=FAST_HTTP)
    assert result.decision is Decision.FAILED
    assert len(slow_emu.app.calls("/intents/train")) == 2
    assert len(slow_emu.app.calls("/cancel")) == 2


ENDPOINT = "9e" * 12


def _with_endpoint(config: Path) -> str:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["cognigy_v2"]["promotion"]["endpoint_id"] = ENDPOINT
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(data["cognigy_v2"]["promotion"]["target_project_id"])


def test_main_run_re_points_the_configured_endpoint(project: Path) -> None:
    target_id = _with_endpoint(project)
    with V2Emulator.from_config(project, api_key=API_KEY, epochs=10) as emu:
        endpoint = emu.service.projects[target_id].endpoints[ENDPOINT]  # seeded from the config
        result = run(project, emu, Mode.PROMOTE)
    assert result.decision is Decision.PROMOTED, (result.reason, result.error)
    steps = result.promotion.steps
    assert (steps[0].name, steps[0].id) == ("check endpoint", ENDPOINT)
    assert (steps[-1].name, steps[-1].status, steps[-1].id) == (
        "verify endpoint",
        "done",
        ENDPOINT,
    )
    assert f"entrypoint {result.promotion.version_id}" in (steps[-1].detail or "")
    assert endpoint.entrypoint == result.promotion.version_id  # the uploaded snapshot
    audit = (project.parent / "cognigy_training_audit.log").read_text(encoding="utf-8")
    record = json.loads(audit.splitlines()[-1])
    assert record["promotion"]["steps"][-1]["id"] == ENDPOINT


def test_an_unknown_endpoint_fails_the_run_and_names_it(project: Path) -> None:
    target_id = _with_endpoint(project)
    with V2Emulator.from_config(project, api_key=API_KEY, epochs=10) as emu:
        emu.service.projects[target_id].endpoints.clear()  # deleted in Cognigy meanwhile
        result = run(project, emu, Mode.PROMOTE)
        changes = [c for c in emu.app.calls("/snapshots") if c.method != "GET"]
        assert changes == []  # nothing created, uploaded or restored
        assert target_id not in {s.project_id for s in emu.service.tasks.values()}
        assert [t for t in emu.service.tasks.values() if t.type == "trainIntents"] == []
    # Production is what the endpoint serves: unreadable, the run stops before training.
    assert result.decision is Decision.FAILED
    assert not result.promoted
    assert f"endpoint {ENDPOINT} (cognigy_v2.promotion.endpoint_id) was not found" in (
        result.reason
    )
    summary = render_summary(result)
    assert "fix cognigy\\_v2.promotion.endpoint\\_id" in summary
    assert escape("cognigy_v2.promotion.endpoint_id") in summary  # the hint: what to fix


def test_an_unusable_base_url_in_the_config_is_invalid_at_its_line(project: Path) -> None:
    # Only the backend (building its client) knows the base-URL rule; its mistake is still
    # the file's, so it is reported as one: exit 2, file:line, the field and the fix.
    text = project.read_text(encoding="utf-8")
    lines = text.splitlines()
    line = next(n for n, row in enumerate(lines, 1) if row.strip().startswith("base_url:"))
    project.write_text(
        text.replace("https://api-trial.cognigy.ai", "http://cognigy.example.com", 1),
        encoding="utf-8",
    )
    settings = Settings.from_env({"COGNIGY_API_KEY": API_KEY}, config_path=project, mode=Mode.TRAIN)
    result = execute(settings, ConsoleReporter(), stop=threading.Event())
    assert result.decision is Decision.INVALID
    assert result.exit_code == 2
    reason = result.reasons[0]
    assert reason.startswith(f"{project}:{line}:")
    assert "cognigy_v2.base_url" in reason
    assert "plain http" in reason and "use https" in reason


def test_the_backend_takes_the_runs_retry_allowance_from_its_policy(project: Path) -> None:
    """One budget type for every client: the v2 backend's budget counts retries against
    the policy's run allowance, as a client that builds its own budget does."""
    from ci_trainer.backends.cognigy_v2.backend import backend_from_config
    from ci_trainer.config import load_config
    from ci_trainer.redact import Redactor

    policy = RetryPolicy(run_retry_budget=3)
    backend = backend_from_config(
        load_config(project),
        api_key=API_KEY,
        base_url=None,
        redactor=Redactor(),
        run_label="test",
        policy=policy,
    )
    try:
        assert backend.client.requests.retry_limit == 3
    finally:
        backend.close()


def test_a_megabyte_fail_reason_is_bounded_in_every_copy(project: Path, emu: V2Emulator) -> None:
    """Issue 14 item 2: a Task's failReason is cut where it enters, so the reason, the
    summary and the audit record stay small and say how much was left off."""
    emu.service.fail_next_task("trainIntents", "NLU down " + "x" * 2_000_000)
    result = run(project, emu, Mode.TRAIN)
    assert result.decision is Decision.FAILED
    assert "NLU down" in result.reason and "more characters)" in result.reason
    assert len(result.reason) < 10_000
    assert len(render_summary(result).encode()) < 256 * 1024
    audit = (project.parent / "cognigy_training_audit.log").read_text(encoding="utf-8")
    assert len(audit.splitlines()[-1]) < 256 * 1024

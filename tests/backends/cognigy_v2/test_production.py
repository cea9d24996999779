"""Production is what the configured endpoint serves (issue 18 item 1), against the v2
emulator over real HTTP: the champion is the snapshot the endpoint serves (not the newest
ci-trainer one), scored on the target's working copy only when that copy provably holds
it; a served snapshot nothing shows to be there is not scored, and the run says which
snapshot it is; without an endpoint, production is said to be inferred."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.decision import Decision
from ci_trainer.report import render_summary
from ci_trainer.result import Mode

from .conftest import EN, TALK_FLOW, TARGET_PROJECT, make_backend
from .test_backend import REQUEST, run_to_end
from .test_run import run

ENDPOINT = "9e" * 12


def promote(backend: CognigyV2Backend) -> str:
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted, promotion.steps
    return backend.snapshot_ids[TARGET_PROJECT]


def trained_backend(
    emu: V2Emulator, intents_dir: Path, name: str, **options: object
) -> CognigyV2Backend:
    backend = make_backend(
        emu, intents_dir, target_project_id=TARGET_PROJECT, snapshot_name=name, **options
    )
    backend.check_access()
    job = backend.start_training(backend.targets()[0], REQUEST, name)
    run_to_end(backend, job)
    return backend


def test_the_champion_is_the_served_snapshot_not_the_newest_ci_trainer_one(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.seed_endpoint(TARGET_PROJECT, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN)
    served = promote(trained_backend(emu, intents_dir, "ci-trainer-a", endpoint_id=ENDPOINT))
    # A newer ci-trainer snapshot, uploaded only (no restore, no endpoint): not production.
    newer = promote(trained_backend(emu, intents_dir, "ci-trainer-b", restore=False))
    endpoint = emu.service.projects[TARGET_PROJECT].endpoints[ENDPOINT]
    assert endpoint.entrypoint == served != newer
    backend = make_backend(emu, intents_dir, target_project_id=TARGET_PROJECT, endpoint_id=ENDPOINT)
    version = backend.production_version(backend.targets()[0])
    assert version is not None and version.unscorable is None, version
    assert version.version_id == f"{TARGET_PROJECT}:{served}"
    assert f"holds snapshot {served} (ci-trainer-a)" in (version.scored_on or "")
    restore = next(t for t in emu.service.tasks.values() if t.type == "restoreSnapshot")
    assert f"its newest restore (Task {restore.id}) restored that snapshot" in (
        version.scored_on or ""
    )
    # Scored in the target project, through the flow the endpoint serves (Smalltalk),
    # not the holdout target's (Shop).
    [predicted] = backend.predict(backend.targets()[0], version.version_id, ["hello there"])
    assert predicted.intent == "greeting"
    assert [c for c in emu.app.calls("/nlu/scores") if TARGET_PROJECT in c.path]


def test_a_served_snapshot_restored_before_a_newer_restore_is_not_scored(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.seed_endpoint(TARGET_PROJECT, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN)
    served = promote(trained_backend(emu, intents_dir, "ci-trainer-a", endpoint_id=ENDPOINT))
    _earlier(emu)
    # The next promotion restores its snapshot, but the endpoint is not moved to it.
    later = promote(trained_backend(emu, intents_dir, "ci-trainer-b"))
    backend = make_backend(emu, intents_dir, target_project_id=TARGET_PROJECT, endpoint_id=ENDPOINT)
    version = backend.production_version(backend.targets()[0])
    assert version is not None and version.scored_on is None
    assert version.version_id == f"{TARGET_PROJECT}:{served}"
    assert f"endpoint {ENDPOINT} serves snapshot {served} (ci-trainer-a)" in (
        version.unscorable or ""
    )
    assert f"restored snapshot {later}" in (version.unscorable or "")


def test_a_hand_made_snapshot_restored_by_hand_is_the_champion(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.seed_endpoint(TARGET_PROJECT, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN)
    promote(trained_backend(emu, intents_dir, "ci-trainer-a", endpoint_id=ENDPOINT))
    manual = _hand_made(emu, "release 7")
    _earlier(emu)  # the promotion's Tasks ran a while before the hand-made restore
    task = emu.service.start_restore(manual, TARGET_PROJECT)
    assert emu.service.wait_task(task.id).status == "done"
    emu.service.projects[TARGET_PROJECT].endpoints[ENDPOINT].entrypoint = manual
    backend = make_backend(emu, intents_dir, target_project_id=TARGET_PROJECT, endpoint_id=ENDPOINT)
    version = backend.production_version(backend.targets()[0])
    assert version is not None and version.version_id == f"{TARGET_PROJECT}:{manual}"
    assert f"holds snapshot {manual} (release 7)" in (version.scored_on or ""), version


def test_without_an_endpoint_production_is_said_to_be_inferred(
    emu: V2Emulator, intents_dir: Path
) -> None:
    promote(trained_backend(emu, intents_dir, "ci-trainer-a"))
    backend = make_backend(emu, intents_dir, target_project_id=TARGET_PROJECT)
    version = backend.production_version(backend.targets()[0])
    assert version is not None and version.version_id == f"{TARGET_PROJECT}:ci-trainer-a"
    assert "inferred, as no cognigy_v2.promotion.endpoint_id is configured" in (
        version.scored_on or ""
    )
    assert "newest ci-trainer snapshot" in (version.scored_on or "")


def _earlier(emu: V2Emulator, seconds: float = 60.0) -> None:
    """Move every Task so far back in time: Task times are whole seconds, and a restore
    in the same second as another cannot be told to be the later one."""
    for task in emu.service.tasks.values():
        task.created_at -= seconds


def _hand_made(emu: V2Emulator, name: str) -> str:
    task = emu.service.start_snapshot(TARGET_PROJECT, name, "made in the UI")
    assert emu.service.wait_task(task.id).status == "done"
    snapshots = emu.service.projects[TARGET_PROJECT].snapshots.values()
    return next(s.id for s in snapshots if s.name == name)


# ---------------------------------------------------------------------- whole runs


def _sample_ids(project: Path) -> tuple[str, str]:
    section = yaml.safe_load(project.read_text(encoding="utf-8"))["cognigy_v2"]
    return section["promotion"]["target_project_id"], section["promotion"]["endpoint_id"]


def test_the_summary_and_record_say_what_the_comparison_ran_against(
    project: Path, sample_emu: V2Emulator
) -> None:
    target, endpoint_id = _sample_ids(project)
    main = run(project, sample_emu, Mode.PROMOTE)
    assert main.decision is Decision.PROMOTED, (main.reason, main.error)
    served = main.promotion.version_id
    result = run(project, sample_emu, Mode.TRAIN)
    champion = result.champion
    assert champion is not None, (result.champion_note, result.error)
    assert champion.production_version_id == f"{target}:{served}"
    scored_on = champion.production_scored_on or ""
    assert f"project {target}'s working copy, which holds snapshot {served}" in scored_on
    assert f"endpoint {endpoint_id} serves snapshot {served}" in scored_on
    assert "Production was scored on project" in render_summary(result)
    record = _last_record(project)
    assert record["champion"]["productionScoredOn"] == scored_on
    assert record["production"]["scoredOn"] == scored_on


def test_a_served_hand_made_snapshot_is_named_and_not_compared(
    project: Path, sample_emu: V2Emulator
) -> None:
    target, endpoint_id = _sample_ids(project)
    assert run(project, sample_emu, Mode.PROMOTE).decision is Decision.PROMOTED
    task = sample_emu.service.start_snapshot(target, "hotfix by hand", "")
    assert sample_emu.service.wait_task(task.id).status == "done"
    snapshots = sample_emu.service.projects[target].snapshots.values()
    manual = next(s.id for s in snapshots if s.name == "hotfix by hand")
    sample_emu.service.projects[target].endpoints[endpoint_id].entrypoint = manual
    scored_before = len(sample_emu.app.calls("/nlu/scores"))
    result = run(project, sample_emu, Mode.TRAIN)
    assert result.decision is Decision.APPROVED, (result.reason, result.error)
    assert result.champion is None
    note = result.champion_note or ""
    assert f"endpoint {endpoint_id} serves snapshot {manual} (hotfix by hand)" in note
    assert "takes no snapshot" in note and "thresholds alone" in note
    # Nothing was scored against something production is not.
    assert len(sample_emu.app.calls("/nlu/scores")) == scored_before
    assert manual in render_summary(result)
    assert manual in (_last_record(project)["production"]["unscorable"] or "")


def _last_record(project: Path) -> dict[str, object]:
    lines = (project.parent / "cognigy_training_audit.log").read_text("utf-8").splitlines()
    record = json.loads(lines[-1])
    assert isinstance(record, dict)
    return record

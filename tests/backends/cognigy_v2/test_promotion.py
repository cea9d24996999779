"""Promotion that is verified, not assumed (issue 13 item 6, C4-C7): the endpoint is read
back after the PATCH, its flow is checked in the snapshot first, a delete Task is waited
for, a served snapshot is never deleted, and an upload is looked for in the list a
bounded number of times. All against the v2 emulator over real HTTP."""

from __future__ import annotations

from pathlib import Path

from ci_trainer.backend_types import Promotion, PromotionStep
from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.app import V2Variants
from ci_trainer.backends.cognigy_v2.emulator.model import Endpoint
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.endpoint import EndpointSteps
from ci_trainer.backends.cognigy_v2.options import V2Options
from ci_trainer.backends.cognigy_v2.snapshots import FIND_READS

from .conftest import (
    EN,
    PROJECT,
    TALK_FLOW,
    TARGET_PROJECT,
    EmulatorFactory,
    make_backend,
    targets,
)

ENDPOINT = "9e" * 12


def seed_endpoint(emu: V2Emulator, project_id: str) -> Endpoint:
    emu.seed_endpoint(project_id, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN, name="webchat")
    return emu.service.projects[project_id].endpoints[ENDPOINT]


def backend_for(
    emu: V2Emulator, intents_dir: Path, name: str, **options: object
) -> CognigyV2Backend:
    options.setdefault("import_mode", None)
    return make_backend(emu, intents_dir, snapshot_name=name, **options)


def promote(backend: CognigyV2Backend) -> Promotion:
    return backend.promote(backend.targets()[0], "v", "production")


def step(promotion: Promotion, name: str) -> PromotionStep:
    found = [s for s in promotion.steps if s.name == name]
    assert len(found) == 1, [s.name for s in promotion.steps]
    return found[0]


def fill(emu: V2Emulator, project_id: str, names: list[str]) -> list[str]:
    """Snapshots made in the tenant before the run, oldest first; their ids."""
    ids = []
    for name in names:
        task = emu.service.start_snapshot(project_id, name, "")
        assert emu.service.wait_task(task.id).status == "done"
        ids.append(
            next(
                s.id for s in emu.service.projects[project_id].snapshots.values() if s.name == name
            )
        )
    return ids


def patches(emu: V2Emulator) -> int:
    return len([r for r in emu.app.calls(f"/endpoints/{ENDPOINT}") if r.method == "PATCH"])


def snapshot_names(emu: V2Emulator, project_id: str) -> list[str]:
    return sorted(s.name for s in emu.service.projects[project_id].snapshots.values())


# ---------------------------------------------------------------------- read-back


def test_a_promotion_is_promoted_only_with_the_entrypoint_read_back(
    emu: V2Emulator, intents_dir: Path
) -> None:
    endpoint = seed_endpoint(emu, TARGET_PROJECT)
    backend = backend_for(
        emu, intents_dir, "ci-trainer-rb-1", target_project_id=TARGET_PROJECT, endpoint_id=ENDPOINT
    )
    promotion = promote(backend)
    assert promotion.promoted, promotion.steps
    uploaded = backend.snapshot_ids[TARGET_PROJECT]
    verified = promotion.steps[-1]
    assert (verified.name, verified.status, verified.id) == ("verify endpoint", "done", ENDPOINT)
    assert f"read back: serves entrypoint {uploaded}" in (verified.detail or "")
    assert endpoint.entrypoint == uploaded
    # The check before anything was created read the endpoint itself, not the list (C5).
    check = step(promotion, "check endpoint")
    assert f"serves entrypoint {TARGET_PROJECT}" in (check.detail or "")
    reads = [r for r in emu.app.calls(f"/endpoints/{ENDPOINT}") if r.method == "GET"]
    assert len(reads) == 2  # the check and the read-back
    flow = step(promotion, "check flow in snapshot")
    assert flow.status == "done" and flow.id == uploaded


def test_a_patch_the_service_ignores_is_not_promoted_and_says_what_is_served(
    emu: V2Emulator, intents_dir: Path
) -> None:
    endpoint = seed_endpoint(emu, PROJECT)
    emu.service.quirk_next_endpoint_update("ignored")
    backend = backend_for(emu, intents_dir, "ci-trainer-rb-2", endpoint_id=ENDPOINT)
    promotion = promote(backend)
    assert not promotion.promoted
    verify = step(promotion, "verify endpoint")
    assert verify.status == "failed"
    assert f"serves entrypoint {PROJECT}" in (verify.detail or "")
    state = promotion.steps[-1]
    assert (state.name, state.status) == ("production serves", "read")
    assert f"entrypoint {PROJECT}" in (state.detail or "")
    assert endpoint.entrypoint == PROJECT
    assert patches(emu) == 1  # a 2xx is not re-sent, whatever the read says


def test_a_patch_that_lands_elsewhere_is_not_promoted(emu: V2Emulator, intents_dir: Path) -> None:
    seed_endpoint(emu, PROJECT)
    # The working copy is re-pointed (and so the endpoint serves the tenant's edits).
    emu.service.projects[PROJECT].endpoints[ENDPOINT].entrypoint = fill(emu, PROJECT, ["manual"])[0]
    emu.service.quirk_next_endpoint_update("working-copy")
    backend = backend_for(emu, intents_dir, "ci-trainer-rb-3", endpoint_id=ENDPOINT)
    promotion = promote(backend)
    assert not promotion.promoted
    snapshot_id = backend.snapshot_ids[PROJECT]
    verify = step(promotion, "verify endpoint")
    assert verify.status == "failed" and f"not snapshot {snapshot_id}" in (verify.detail or "")
    assert f"entrypoint {PROJECT}," in (promotion.steps[-1].detail or "")


def test_a_flow_missing_from_the_snapshot_sends_no_patch(
    emu: V2Emulator, intents_dir: Path
) -> None:
    # The target's endpoint serves a flow only the target project has: the uploaded
    # snapshot (of the source project) does not hold it.
    legacy = emu.service.add_flow(TARGET_PROJECT, "Legacy")
    endpoint = emu.service.add_endpoint(
        TARGET_PROJECT, "old bot", endpoint_id=ENDPOINT, flow_ref=legacy.reference_id
    )
    backend = backend_for(
        emu,
        intents_dir,
        "ci-trainer-rb-4",
        target_project_id=TARGET_PROJECT,
        restore=False,
        endpoint_id=ENDPOINT,
    )
    promotion = promote(backend)
    assert not promotion.promoted
    missing = step(promotion, "check flow in snapshot")
    assert missing.status == "failed" and legacy.reference_id in (missing.detail or "")
    assert "re-point endpoint" not in [s.name for s in promotion.steps]
    assert patches(emu) == 0
    assert endpoint.entrypoint == TARGET_PROJECT
    assert f"entrypoint {TARGET_PROJECT}" in (promotion.steps[-1].detail or "")


def test_an_endpoint_that_cannot_be_read_is_said_to_serve_something_unknown(
    emu: V2Emulator, client: CognigyV2Client, intents_dir: Path
) -> None:
    options = V2Options(project_id=PROJECT, targets=targets(intents_dir), endpoint_id=ENDPOINT)
    steps = EndpointSteps(client, options, lambda _target: ("f", "l"))
    state = steps.production_state()  # no such endpoint: a 404
    assert (state.name, state.status, state.id) == ("production serves", "unknown", ENDPOINT)
    assert (state.detail or "").startswith(f"unknown: could not read endpoint {ENDPOINT}")
    seed_endpoint(emu, PROJECT)
    state = steps.production_state()
    assert state.status == "read" and f"serves entrypoint {PROJECT}" in (state.detail or "")


# ---------------------------------------------------------------------- room (C4)


def test_the_delete_task_is_done_before_the_snapshot_is_created(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    emu = make_emulator(task_seconds=0.05)
    fill(emu, PROJECT, ["ci-trainer-old", *[f"manual-{i}" for i in range(9)]])
    old = next(
        s for s in emu.service.projects[PROJECT].snapshots.values() if s.name == "ci-trainer-old"
    )
    backend = backend_for(emu, intents_dir, "ci-trainer-rm-1", delete_oldest_snapshot=True)
    promotion = promote(backend)
    assert promotion.promoted, promotion.steps
    delete = next(t for t in emu.service.tasks.values() if t.type == "deleteSnapshot")
    create = next(
        t
        for t in emu.service.tasks.values()
        if t.type == "createSnapshot" and t.parameters["name"] == "ci-trainer-rm-1"
    )
    assert delete.status == "done" and delete.parameters == {"snapshotId": old.id}
    assert delete.last_finished_at is not None and delete.last_finished_at <= create.created_at
    # In the log: DELETE, then reads of its Task, and only then the POST.
    log = [(r.method, r.path) for r in emu.app.log.records()]
    deleted_at = log.index(("DELETE", f"/new/v2.0/snapshots/{old.id}"))
    created_at = log.index(("POST", "/new/v2.0/snapshots"))
    assert ("GET", f"/new/v2.0/tasks/{delete.id}") in log[deleted_at:created_at]
    assert step(promotion, "delete oldest ci-trainer snapshot").id == old.id


def test_the_delete_task_is_done_before_the_upload(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    emu = make_emulator(task_seconds=0.03)
    [old, *_] = fill(emu, TARGET_PROJECT, ["ci-trainer-old", *[f"manual-{i}" for i in range(9)]])
    backend = backend_for(
        emu,
        intents_dir,
        "ci-trainer-rm-2",
        target_project_id=TARGET_PROJECT,
        restore=False,
        delete_oldest_snapshot=True,
    )
    promotion = promote(backend)
    assert promotion.promoted, promotion.steps
    log = [(r.method, r.path) for r in emu.app.log.records()]
    delete = next(t for t in emu.service.tasks.values() if t.type == "deleteSnapshot")
    deleted_at = log.index(("DELETE", f"/new/v2.0/snapshots/{old}"))
    uploaded_at = log.index(("POST", "/new/v2.0/snapshots/upload"))
    assert ("GET", f"/new/v2.0/tasks/{delete.id}") in log[deleted_at:uploaded_at]
    assert "ci-trainer-old" not in snapshot_names(emu, TARGET_PROJECT)


def test_a_served_snapshot_is_kept_and_the_next_oldest_deleted(
    emu: V2Emulator, intents_dir: Path
) -> None:
    served, unserved, *_ = fill(
        emu, PROJECT, ["ci-trainer-a", "ci-trainer-b", *[f"manual-{i}" for i in range(8)]]
    )
    endpoint = seed_endpoint(emu, PROJECT)
    endpoint.entrypoint = served
    backend = backend_for(emu, intents_dir, "ci-trainer-rm-3", delete_oldest_snapshot=True)
    promotion = promote(backend)
    assert promotion.promoted, promotion.steps
    deleted = step(promotion, "delete oldest ci-trainer snapshot")
    assert deleted.id == unserved
    assert "ci-trainer-a (endpoint " in (deleted.detail or "")
    names = snapshot_names(emu, PROJECT)
    assert "ci-trainer-a" in names and "ci-trainer-b" not in names
    assert endpoint.entrypoint == served


def test_when_every_ci_trainer_snapshot_is_served_nothing_is_deleted(
    emu: V2Emulator, intents_dir: Path
) -> None:
    [served, *_] = fill(emu, PROJECT, ["ci-trainer-a", *[f"manual-{i}" for i in range(9)]])
    seed_endpoint(emu, PROJECT).entrypoint = served
    backend = backend_for(emu, intents_dir, "ci-trainer-rm-4", delete_oldest_snapshot=True)
    promotion = promote(backend)
    assert not promotion.promoted
    limit = promotion.steps[0]
    assert (limit.name, limit.status) == ("snapshot limit", "failed")
    assert "every ci-trainer snapshot is served" in (limit.detail or "")
    assert "never deletes one an endpoint serves" in (promotion.steps[-1].detail or "")
    assert len(emu.service.projects[PROJECT].snapshots) == 10
    assert [r for r in emu.app.log.records() if r.method == "DELETE"] == []


# ---------------------------------------------------------------------- upload lag (C7)


def test_an_upload_that_shows_late_is_found_within_the_bound(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    emu = make_emulator(V2Variants(upload_list_lag=FIND_READS - 1))
    backend = backend_for(
        emu, intents_dir, "ci-trainer-lag-1", target_project_id=TARGET_PROJECT, restore=False
    )
    promotion = promote(backend)
    assert promotion.promoted, promotion.steps
    found = step(promotion, "find uploaded snapshot")
    assert found.id == backend.snapshot_ids[TARGET_PROJECT]
    lists = [
        r
        for r in emu.app.calls("/snapshots")
        if r.method == "GET" and r.query.get("projectId") == TARGET_PROJECT
    ]
    assert len(lists) == 1 + FIND_READS  # the room check, then one read per beat


def test_an_upload_that_never_shows_is_a_clear_failure(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    emu = make_emulator(V2Variants(upload_list_lag=1000))
    backend = backend_for(
        emu, intents_dir, "ci-trainer-lag-2", target_project_id=TARGET_PROJECT, restore=False
    )
    promotion = promote(backend)
    assert not promotion.promoted
    error = promotion.steps[-1]
    assert error.name == "error"
    assert (
        f"no snapshot named ci-trainer-lag-2 in project {TARGET_PROJECT} after {FIND_READS} reads"
        in (error.detail or "")
    )
    assert step(promotion, "upload to target project").status == "done"

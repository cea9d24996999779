"""C1 for promotion's writes: a create, upload or PATCH whose answer was lost (a 502 after
the service applied it) is reconciled, never re-sent blindly. Exactly one snapshot, one
upload, one PATCH; and a write the service did not take goes once more."""

from __future__ import annotations

from pathlib import Path

from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator

from .conftest import EN, PROJECT, TALK_FLOW, TARGET_PROJECT, make_backend

ENDPOINT = "9e" * 12


def backend_for(
    emu: V2Emulator, intents_dir: Path, name: str, **options: object
) -> CognigyV2Backend:
    options.setdefault("import_mode", None)
    return make_backend(emu, intents_dir, snapshot_name=name, **options)


def named(emu: V2Emulator, project_id: str, name: str) -> list[str]:
    return [s.id for s in emu.service.projects[project_id].snapshots.values() if s.name == name]


def posts(emu: V2Emulator, path: str) -> list[int]:
    return [r.status for r in emu.app.log.records() if r.method == "POST" and r.path == path]


def test_a_lost_answer_to_create_snapshot_yields_one_snapshot(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("createSnapshot", 502, style="applied")
    backend = backend_for(emu, intents_dir, "ci-trainer-w-1")
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted, promotion.steps
    assert posts(emu, "/new/v2.0/snapshots") == [502]  # adopted, not re-sent
    assert named(emu, PROJECT, "ci-trainer-w-1") == [backend.snapshot_ids[PROJECT]]


def test_a_create_the_service_did_not_take_is_sent_once_more(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("createSnapshot", 502)  # the gateway failed before the service
    backend = backend_for(emu, intents_dir, "ci-trainer-w-2")
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted, promotion.steps
    assert posts(emu, "/new/v2.0/snapshots") == [502, 202]
    assert len(named(emu, PROJECT, "ci-trainer-w-2")) == 1


def test_a_lost_answer_to_an_upload_yields_one_uploaded_snapshot(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("uploadSnapshotPackage", 502, style="applied")
    backend = backend_for(
        emu, intents_dir, "ci-trainer-w-3", target_project_id=TARGET_PROJECT, restore=False
    )
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted, promotion.steps
    assert posts(emu, "/new/v2.0/snapshots/upload") == [502]
    assert named(emu, TARGET_PROJECT, "ci-trainer-w-3") == [backend.snapshot_ids[TARGET_PROJECT]]
    uploads = [t for t in emu.service.tasks.values() if t.type == "uploadSnapshotPackage"]
    assert len(uploads) == 1


def test_an_upload_the_service_did_not_take_is_sent_once_more(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("uploadSnapshotPackage", 503)
    backend = backend_for(
        emu, intents_dir, "ci-trainer-w-4", target_project_id=TARGET_PROJECT, restore=False
    )
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted, promotion.steps
    assert posts(emu, "/new/v2.0/snapshots/upload") == [503, 202]
    assert len(named(emu, TARGET_PROJECT, "ci-trainer-w-4")) == 1


def test_a_lost_answer_to_the_patch_is_read_back_and_not_sent_again(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.seed_endpoint(PROJECT, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN)
    emu.app.fail_next("updateEndpoint", 502, style="applied")
    backend = backend_for(emu, intents_dir, "ci-trainer-w-5", endpoint_id=ENDPOINT)
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted, promotion.steps
    patches = [r.status for r in emu.app.calls(f"/endpoints/{ENDPOINT}") if r.method == "PATCH"]
    assert patches == [502]
    snapshot_id = backend.snapshot_ids[PROJECT]
    assert emu.service.projects[PROJECT].endpoints[ENDPOINT].entrypoint == snapshot_id
    assert promotion.steps[-1].name == "verify endpoint"
    assert f"entrypoint {snapshot_id}" in (promotion.steps[-1].detail or "")


def test_a_patch_the_service_did_not_take_is_sent_once_more(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.seed_endpoint(PROJECT, ENDPOINT, flow_id=TALK_FLOW, locale_id=EN)
    emu.app.fail_next("updateEndpoint", 502)
    backend = backend_for(emu, intents_dir, "ci-trainer-w-6", endpoint_id=ENDPOINT)
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.promoted, promotion.steps
    patches = [r.status for r in emu.app.calls(f"/endpoints/{ENDPOINT}") if r.method == "PATCH"]
    assert patches == [502, 204]
    assert (
        emu.service.projects[PROJECT].endpoints[ENDPOINT].entrypoint
        == backend.snapshot_ids[PROJECT]
    )

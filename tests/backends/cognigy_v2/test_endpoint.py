"""Promotion by re-pointing a configured Endpoint at the promoted snapshot (issue 8 item 4):
the client's endpoint calls, the emulator's endpoint list/read/update, and the backend's
steps, including a wrong endpoint id that must fail before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.app import V2Variants
from ci_trainer.backends.cognigy_v2.emulator.model import Endpoint
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.errors import ApiError

from .conftest import (
    EN,
    PROJECT,
    SHOP_FLOW,
    TALK_FLOW,
    TARGET_PROJECT,
    EmulatorFactory,
    make_backend,
    make_client,
)

ENDPOINT = "9e" * 12
MISSING = "7a" * 12


def seed_endpoint(emu: V2Emulator, project_id: str, flow_id: str = TALK_FLOW) -> Endpoint:
    emu.seed_endpoint(project_id, ENDPOINT, flow_id=flow_id, locale_id=EN, name="webchat")
    return emu.service.projects[project_id].endpoints[ENDPOINT]


def promote(backend: CognigyV2Backend) -> tuple[bool, list[tuple[str, str, str | None]]]:
    promotion = backend.promote(backend.targets()[0], "v", "production")
    return promotion.promoted, [(s.name, s.status, s.id) for s in promotion.steps]


# ---------------------------------------------------------------------- client + emulator


def test_endpoints_are_listed_and_updated(emu: V2Emulator, client: CognigyV2Client) -> None:
    endpoint = seed_endpoint(emu, PROJECT)
    listed = client.list_endpoints(PROJECT)
    # The list has no entrypoint (C5); the endpoint's own read has it.
    assert [(e["_id"], e["name"], "entrypoint" in e) for e in listed] == [
        (ENDPOINT, "webchat", False)
    ]
    assert client.read_endpoint(ENDPOINT)["entrypoint"] == PROJECT
    assert listed[0]["flowId"] == endpoint.flow_id and listed[0]["localeId"] == endpoint.locale_id
    task = emu.service.start_snapshot(PROJECT, "manual", "")
    assert emu.service.wait_task(task.id).status == "done"
    snapshot_id = next(iter(emu.service.projects[PROJECT].snapshots))
    client.update_endpoint(ENDPOINT, {"entrypoint": snapshot_id})
    assert endpoint.entrypoint == snapshot_id
    assert endpoint.flow_id == listed[0]["flowId"]  # PATCH keeps the fields not sent
    patch = emu.app.calls(f"/endpoints/{ENDPOINT}")[-1]
    assert patch.method == "PATCH" and patch.content_type.startswith("application/json")


def test_hal_endpoint_lists_are_read(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator(V2Variants(hal_always=True))
    seed_endpoint(emu, PROJECT)
    with make_client(emu) as api:
        assert [e["_id"] for e in api.list_endpoints(PROJECT)] == [ENDPOINT]


def test_the_emulator_reads_endpoints_and_refuses_bad_updates(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    endpoint = seed_endpoint(emu, PROJECT)
    url = f"{emu.base_url}/new/v2.0/endpoints/{ENDPOINT}"
    headers = {"X-API-Key": emu.api_key, "Accept": "application/json"}
    assert requests.get(url, headers=headers, timeout=5).json()["URLToken"] == endpoint.url_token
    missing = requests.get(url.replace(ENDPOINT, MISSING), headers=headers, timeout=5)
    assert missing.status_code == 404 and missing.json()["code"] == 1002
    with pytest.raises(ApiError, match="not a snapshot of project"):
        client.update_endpoint(ENDPOINT, {"entrypoint": MISSING})
    with pytest.raises(ApiError, match="not a flow of the entrypoint"):
        client.update_endpoint(ENDPOINT, {"flowId": "no-such-reference"})
    with pytest.raises(ApiError, match=MISSING):
        client.update_endpoint(MISSING, {"entrypoint": PROJECT})
    assert endpoint.entrypoint == PROJECT  # nothing changed


# ---------------------------------------------------------------------- backend promotion


def test_promotion_re_points_the_endpoint_in_the_target_project(
    emu: V2Emulator, intents_dir: Path
) -> None:
    endpoint = seed_endpoint(emu, TARGET_PROJECT)
    served_flow, served_locale = endpoint.flow_id, endpoint.locale_id
    backend = make_backend(
        emu,
        intents_dir,
        import_mode=None,
        target_project_id=TARGET_PROJECT,
        snapshot_name="ci-trainer-ep-1",
        endpoint_id=ENDPOINT,
    )
    promoted, steps = promote(backend)
    assert promoted, steps
    uploaded = backend.snapshot_ids[TARGET_PROJECT]
    assert [name for name, _, _ in steps] == [
        "check endpoint",
        "create snapshot",
        "find snapshot",
        "package snapshot",
        "download package",
        "upload to target project",
        "find uploaded snapshot",
        "restore in target project",
        "check flow in snapshot",
        "re-point endpoint",
        "verify endpoint",
    ]
    assert all(status == "done" for _, status, _ in steps)
    assert steps[0][2] == steps[-1][2] == ENDPOINT
    assert endpoint.entrypoint == uploaded
    # the flow and locale it served are kept (referenceIds survive the snapshot)
    assert (endpoint.flow_id, endpoint.locale_id) == (served_flow, served_locale)
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert promotion.version_id == uploaded
    assert uploaded in (promotion.steps[-1].detail or "")


def test_without_a_target_project_the_source_projects_endpoint_serves_the_snapshot(
    emu: V2Emulator, intents_dir: Path
) -> None:
    endpoint = seed_endpoint(emu, PROJECT)
    backend = make_backend(
        emu, intents_dir, import_mode=None, snapshot_name="ci-trainer-ep-2", endpoint_id=ENDPOINT
    )
    promoted, steps = promote(backend)
    assert promoted, steps
    assert [name for name, _, _ in steps][-3:] == [
        "check flow in snapshot",
        "re-point endpoint",
        "verify endpoint",
    ]
    assert endpoint.entrypoint == backend.snapshot_ids[PROJECT]


def test_an_endpoint_without_flow_and_locale_gets_the_first_targets(
    emu: V2Emulator, intents_dir: Path
) -> None:
    endpoint = emu.service.add_endpoint(TARGET_PROJECT, "bare", endpoint_id=ENDPOINT)
    backend = make_backend(
        emu,
        intents_dir,
        import_mode=None,
        target_project_id=TARGET_PROJECT,
        restore=False,
        snapshot_name="ci-trainer-ep-3",
        endpoint_id=ENDPOINT,
    )
    promoted, steps = promote(backend)
    assert promoted, steps
    shop = emu.service.projects[PROJECT].content.flows[SHOP_FLOW]
    english = emu.service.projects[PROJECT].content.locales[EN]
    assert endpoint.flow_id == shop.reference_id  # targets[0] is Shop in en
    assert endpoint.locale_id == english.reference_id
    assert endpoint.entrypoint == backend.snapshot_ids[TARGET_PROJECT]
    assert "restore in target project" not in [name for name, _, _ in steps]


def test_an_unknown_endpoint_fails_before_anything_is_created(
    emu: V2Emulator, intents_dir: Path
) -> None:
    seed_endpoint(emu, PROJECT)  # in the source project, not the promotion target
    backend = make_backend(
        emu,
        intents_dir,
        import_mode=None,
        target_project_id=TARGET_PROJECT,
        snapshot_name="ci-trainer-ep-4",
        endpoint_id=ENDPOINT,
    )
    promotion = backend.promote(backend.targets()[0], "v", "production")
    assert not promotion.promoted
    # Nothing was created, and the endpoint is not this project's: no state to report.
    check, error = promotion.steps
    assert (check.name, check.status, check.id) == ("check endpoint", "failed", ENDPOINT)
    assert TARGET_PROJECT in (check.detail or "")
    assert error.status == "failed"
    assert ENDPOINT in (error.detail or "") and "promotion.endpoint_id" in (error.detail or "")
    for project in (PROJECT, TARGET_PROJECT):
        assert emu.service.projects[project].snapshots == {}
    assert emu.app.calls("/snapshots") == []


def test_a_refused_update_is_a_failed_step_and_not_promoted(
    emu: V2Emulator, intents_dir: Path
) -> None:
    endpoint = seed_endpoint(emu, PROJECT)
    emu.app.fail_next("updateEndpoint", 400)
    backend = make_backend(
        emu, intents_dir, import_mode=None, snapshot_name="ci-trainer-ep-5", endpoint_id=ENDPOINT
    )
    promoted, steps = promote(backend)
    assert not promoted
    assert steps[-3] == ("re-point endpoint", "failed", ENDPOINT)
    assert steps[-2][:2] == ("error", "failed")
    assert steps[-1] == ("production serves", "read", ENDPOINT)
    assert endpoint.entrypoint == PROJECT
    assert len([r for r in emu.app.calls(f"/endpoints/{ENDPOINT}") if r.method == "PATCH"]) == 1


def test_an_endpoint_list_with_entrypoint_also_promotes(
    make_emulator: EmulatorFactory, intents_dir: Path
) -> None:
    # The unconfirmed variant: the list shows entrypoint too; the read is still what counts.
    emu = make_emulator(V2Variants(endpoint_entrypoint=True, hal_always=True))
    endpoint = seed_endpoint(emu, PROJECT)
    backend = make_backend(
        emu, intents_dir, import_mode=None, snapshot_name="ci-trainer-ep-6", endpoint_id=ENDPOINT
    )
    promoted, steps = promote(backend)
    assert promoted, steps
    assert endpoint.entrypoint == backend.snapshot_ids[PROJECT]


def test_an_upper_case_endpoint_id_from_the_config_is_found(
    emu: V2Emulator, intents_dir: Path
) -> None:
    endpoint = seed_endpoint(emu, PROJECT)
    backend = make_backend(
        emu,
        intents_dir,
        import_mode=None,
        snapshot_name="ci-trainer-ep-7",
        endpoint_id=ENDPOINT.upper(),
    )
    promoted, steps = promote(backend)
    assert promoted, steps
    assert endpoint.entrypoint == backend.snapshot_ids[PROJECT]

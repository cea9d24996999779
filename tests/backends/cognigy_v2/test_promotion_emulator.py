"""The v2 emulator's snapshot and endpoint defaults, as the real API (issue 13 item 9):
a delete is a Task, an upload shows late, a snapshot lists its resources (paged), the
endpoint list has no entrypoint, snapshot packages may be far larger than intent files;
and the switches for the older readings."""

from __future__ import annotations

import requests

from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.app import MAX_UPLOAD_BYTES, V2Variants
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator

from .conftest import EN, PROJECT, SHOP_FLOW, TALK_FLOW, EmulatorFactory, make_client


def snapshot(emu: V2Emulator, name: str = "s") -> str:
    task = emu.service.start_snapshot(PROJECT, name, "")
    assert emu.service.wait_task(task.id).status == "done"
    return next(s.id for s in emu.service.projects[PROJECT].snapshots.values() if s.name == name)


def test_a_delete_is_a_task_and_the_snapshot_stays_until_it_is_done(
    make_emulator: EmulatorFactory,
) -> None:
    emu = make_emulator(task_seconds=0.2)
    snapshot_id = snapshot(emu)
    with make_client(emu) as api:
        task = api.delete_snapshot(snapshot_id)
        assert (task.kind, task.status) == ("deleteSnapshot", "queued")
        assert [s["_id"] for s in api.list_snapshots(PROJECT)] == [snapshot_id]
        assert emu.service.wait_task(task.id).status == "done"
        assert api.list_snapshots(PROJECT) == []


def test_the_delete_at_once_variant_answers_a_done_task(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator(V2Variants(snapshot_delete_at_once=True), task_seconds=0.2)
    snapshot_id = snapshot(emu)
    with make_client(emu) as api:
        assert api.delete_snapshot(snapshot_id).status == "done"
        assert api.list_snapshots(PROJECT) == []


def test_a_snapshot_lists_its_flows_page_by_page(emu: V2Emulator) -> None:
    for i in range(120):  # more than one page of the client's 100
        emu.service.add_flow(PROJECT, f"extra-{i}")
    snapshot_id = snapshot(emu)
    flows = emu.service.projects[PROJECT].content.flows
    with make_client(emu) as api:
        listed = api.list_snapshot_resources(snapshot_id, "flow")
        locales = api.list_snapshot_resources(snapshot_id, "locale")
    assert len(listed) == len(flows) == 122
    shop = next(r for r in listed if r["_id"] == SHOP_FLOW)
    assert shop["referenceId"] == flows[SHOP_FLOW].reference_id
    assert shop["resourceType"] == "flow" and shop["name"] == flows[SHOP_FLOW].name
    assert {r["_id"] for r in locales} >= {EN}
    pages = [r.query for r in emu.app.calls(f"/snapshots/{snapshot_id}/resources")]
    assert [q["resourceType"] for q in pages] == ["flow", "flow", "locale"]  # 2 pages of flows


def test_a_resource_type_is_required_and_checked(emu: V2Emulator) -> None:
    snapshot_id = snapshot(emu)
    url = f"{emu.base_url}/new/v2.0/snapshots/{snapshot_id}/resources"
    headers = {"X-API-Key": emu.api_key, "Accept": "application/json"}
    assert requests.get(url, headers=headers, timeout=5).status_code == 400
    odd = requests.get(url, headers=headers, params={"resourceType": "x"}, timeout=5)
    assert odd.status_code == 400 and "resourceType" in odd.json()["detail"]


def test_the_endpoint_list_has_no_entrypoint_unless_the_variant_says_so(
    make_emulator: EmulatorFactory,
) -> None:
    for shows in (False, True):
        emu = make_emulator(V2Variants(endpoint_entrypoint=shows))
        emu.seed_endpoint(PROJECT, "9e" * 12, flow_id=TALK_FLOW, locale_id=EN)
        with make_client(emu) as api:
            [listed] = api.list_endpoints(PROJECT)
            assert ("entrypoint" in listed) is shows
            assert api.read_endpoint("9e" * 12)["entrypoint"] == PROJECT


def test_snapshot_uploads_may_exceed_the_intent_file_limit(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    big = b"x" * (MAX_UPLOAD_BYTES + 1024)
    headers = {"X-API-Key": emu.api_key, "Accept": "application/json"}
    base = f"{emu.base_url}/new/v2.0"
    intents = requests.post(
        f"{base}/flows/{SHOP_FLOW}/intents/import",
        headers=headers,
        data={"localeId": EN},
        files={"file": ("i.csv", big, "text/csv")},
        timeout=10,
    )
    assert intents.status_code == 413
    package = requests.post(
        f"{base}/snapshots/upload",
        headers=headers,
        data={"projectId": PROJECT},
        files={"file": ("s.csnap", big, "application/octet-stream")},
        timeout=10,
    )
    # Past the size check: refused for what it is, not for its size.
    assert package.status_code == 400 and "not a snapshot package" in package.json()["detail"]

"""The v2 emulator's own behaviour: documented limits, auth variants, Intent Analyzer
findings computed from the real classifier, snapshots as copies of trained state."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from ci_trainer.backends.cognigy_v2.emulator.app import V2Variants
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.datasets import parse_dataset

from .conftest import EN, PROJECT, SHOP_FLOW, TALK_FLOW, TARGET_PROJECT, EmulatorFactory


def call(emu: V2Emulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"X-API-Key": emu.api_key, "Accept": "application/json", **kwargs.pop("headers", {})}
    return requests.request(
        method, f"{emu.base_url}/new/v2.0{path}", headers=headers, timeout=10, **kwargs
    )


def train(emu: V2Emulator, flow: str = SHOP_FLOW) -> None:
    task = emu.service.start_training(flow, EN, "full")
    assert emu.service.wait_task(task.id).status == "done"


def test_the_api_key_may_also_come_as_a_query_parameter(emu: V2Emulator) -> None:
    raw = requests.get(
        f"{emu.base_url}/v2.0/projects/{PROJECT}", params={"api_key": emu.api_key}, timeout=5
    )
    assert raw.status_code == 200 and raw.json()["_id"] == PROJECT


def test_a_get_with_a_body_is_forbidden(emu: V2Emulator) -> None:
    raw = call(emu, "GET", f"/projects/{PROJECT}", json={"x": 1})
    assert raw.status_code == 403
    assert raw.json()["traceId"].startswith("api--")


def test_page_limit_bounds(emu: V2Emulator) -> None:
    assert (
        call(emu, "GET", "/locales", params={"projectId": PROJECT, "limit": "101"}).status_code
        == 400
    )
    assert (
        call(emu, "GET", "/locales", params={"projectId": PROJECT, "limit": "0"}).status_code == 400
    )
    assert (
        call(emu, "GET", "/locales", params={"projectId": PROJECT, "limit": "100"}).status_code
        == 200
    )


def test_body_size_limits(emu: V2Emulator) -> None:
    big_json = {"sentence": "x" * (61 * 1024), "flowReferenceId": "a", "localeReferenceId": "b"}
    assert call(emu, "POST", f"/projects/{PROJECT}/nlu/scores", json=big_json).status_code == 413
    big_file = {"file": ("intents.csv", b"a,exampleSentence,b\n" * 110_000, "text/csv")}
    raw = call(
        emu, "POST", f"/flows/{SHOP_FLOW}/intents/import", files=big_file, data={"localeId": EN}
    )
    assert raw.status_code == 413


def test_unknown_routes_answer_a_problem_document(emu: V2Emulator) -> None:
    raw = call(emu, "GET", "/nothing-here")
    assert raw.status_code == 404
    assert raw.json()["code"] == 1002


def test_the_eleventh_snapshot_is_refused(emu: V2Emulator) -> None:
    for i in range(10):
        task = emu.service.start_snapshot(PROJECT, f"s{i}", "")
        assert emu.service.wait_task(task.id).status == "done"
    raw = call(emu, "POST", "/snapshots", json={"projectId": PROJECT, "name": "s10"})
    assert raw.status_code == 400
    assert "maximum of 10" in raw.json()["detail"]


def test_restore_into_another_project_or_without_one_is_refused(emu: V2Emulator) -> None:
    """C17: the API reference marks the restore body's projectId required."""
    task = emu.service.start_snapshot(PROJECT, "s", "")
    emu.service.wait_task(task.id)
    snap_id = next(iter(emu.service.projects[PROJECT].snapshots))
    raw = call(emu, "POST", f"/snapshots/{snap_id}/restore", json={"projectId": TARGET_PROJECT})
    assert raw.status_code == 400
    raw = call(emu, "POST", f"/snapshots/{snap_id}/restore")
    assert raw.status_code == 400
    assert "projectId is required" in raw.json()["detail"]
    raw = call(emu, "POST", f"/snapshots/{snap_id}/restore", json={"projectId": PROJECT})
    assert raw.status_code == 202
    assert emu.service.wait_task(raw.json()["_id"]).status == "done"


def test_the_older_restore_without_a_body_is_a_variant(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator(V2Variants(restore_without_project=True))
    task = emu.service.start_snapshot(PROJECT, "s", "")
    emu.service.wait_task(task.id)
    snap_id = next(iter(emu.service.projects[PROJECT].snapshots))
    raw = call(emu, "POST", f"/snapshots/{snap_id}/restore")
    assert raw.status_code == 202


def test_a_snapshot_keeps_the_trained_state_it_was_taken_from(emu: V2Emulator) -> None:
    train(emu)
    task = emu.service.start_snapshot(PROJECT, "before", "")
    emu.service.wait_task(task.id)
    flows = emu.service.projects[PROJECT].content.flows
    trained_model = flows[SHOP_FLOW].groups[next(iter(flows[SHOP_FLOW].groups))].model
    # change the working copy: overwrite the intents and retrain
    rows = [f"x,exampleSentence,xray sentence {i}" for i in range(4)]
    rows += [f"y,exampleSentence,yankee words {i}" for i in range(4)]
    data = parse_dataset("\n".join(rows), "n.csv")
    emu.service.set_intents(SHOP_FLOW, EN, data)
    train(emu)
    snap = next(iter(emu.service.projects[PROJECT].snapshots.values()))
    kept = snap.content.flows[SHOP_FLOW]
    assert {"track_order", "cancel_order"} <= set(kept.intents)
    assert any(g.model is trained_model for g in kept.groups.values())


def test_findings_come_from_the_classifier(emu: V2Emulator) -> None:
    # "order" and "purchase" share every sentence pattern: the classifier cannot tell
    # them apart, so the analyzer reports poor scores and an overlap; "tiny" is small.
    rows = [f"order,exampleSentence,where is my thing number {i}" for i in range(10)]
    rows += [f"purchase,exampleSentence,where is my thing number {i}" for i in range(10, 20)]
    rows += [
        f"greet,exampleSentence,{w}" for w in ("hello", "hi", "hey", "good day", "hiya", "howdy")
    ]
    rows += ["tiny,exampleSentence,refund money back", "tiny,exampleSentence,refund please"]
    emu.service.set_intents(TALK_FLOW, EN, parse_dataset("\n".join(rows), "f.csv"))
    train(emu, TALK_FLOW)
    group = next(iter(emu.service.projects[PROJECT].content.flows[TALK_FLOW].groups.values()))
    kinds = {name: {f["type"] for f in r["findings"]} for name, r in group.intent_reports.items()}
    assert "fewSentences" in kinds["tiny"]
    assert kinds["order"] & {"poorFScore", "fairFScore", "strongOverlap", "someOverlap"}
    assert "goodFScore" in kinds["greet"]
    flow_kinds = {f["type"] for f in (group.flow_report or {})["findings"]}
    assert "lowDataIntents" in flow_kinds


def test_training_a_flow_with_one_intent_fails_its_task(emu: V2Emulator) -> None:
    emu.service.set_intents(
        TALK_FLOW, EN, parse_dataset("only,exampleSentence,a\nonly,exampleSentence,b\n", "o.csv")
    )
    task = emu.service.start_training(TALK_FLOW, EN, "full")
    final = emu.service.wait_task(task.id)
    assert final.status == "error"
    assert final.fail_reason and "two intents" in final.fail_reason


@pytest.mark.parametrize("mode", ["skip", "merge", "overwrite"])
def test_import_modes(emu: V2Emulator, mode: str) -> None:
    content = b"track_order,exampleSentence,brand new sentence\nnew_one,exampleSentence,hello\n"
    raw = call(
        emu,
        "POST",
        f"/flows/{SHOP_FLOW}/intents/import",
        files={"file": ("i.csv", content, "text/csv")},
        data={"localeId": EN, "mode": mode},
    )
    assert raw.status_code == 202
    assert emu.service.wait_task(raw.json()["_id"]).status == "done"
    intents = emu.service.projects[PROJECT].content.flows[SHOP_FLOW].intents
    track = intents["track_order"].sentences[next(iter(intents["track_order"].sentences))]
    refs = [ref for ref, s in intents["track_order"].sentences.items() if "brand new sentence" in s]
    assert "new_one" in intents
    if mode == "skip":
        assert not refs
    elif mode == "merge":
        assert refs and len(track) > 1
    else:
        assert refs and "cancel_order" in intents  # still has data in the other locale

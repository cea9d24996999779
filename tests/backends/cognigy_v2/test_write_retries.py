"""C1: a write (POST, PATCH) goes again only when it provably never reached the service;
a read is retried as before. Tasks are read by id alone, without projectId (C3)."""

from __future__ import annotations

import pytest

from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.errors import ApiError
from ci_trainer.redact import Redactor

from .conftest import EN, FAST, PROJECT, SHOP_FLOW


def test_a_502_on_a_write_is_not_repeated_and_says_it_may_have_been_applied(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    emu.app.fail_next("trainIntents", 502, style="applied")
    with pytest.raises(ApiError) as caught:
        client.train_intents(SHOP_FLOW, EN)
    assert caught.value.status == 502
    assert len(emu.app.calls("/intents/train")) == 1
    # The gateway lost the answer, not the work: one training exists.
    assert [t.kind for t in client.list_tasks(PROJECT)].count("trainIntents") == 1


def test_a_429_on_a_write_is_repeated_because_nothing_was_processed(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    emu.app.fail_next("trainIntents", 429, retry_after="0")
    task = client.train_intents(SHOP_FLOW, EN)
    assert task.id
    assert [r.status for r in emu.app.calls("/intents/train")] == [429, 202]


def test_a_refused_connection_on_a_write_is_repeated_and_says_it_was_not_sent() -> None:
    # Nothing listens on this port: every attempt fails before anything is sent.
    api = CognigyV2Client("http://127.0.0.1:9", "k" * 24, redactor=Redactor(), policy=FAST)
    with pytest.raises(ApiError) as caught:
        api.train_intents(SHOP_FLOW, EN)
    api.close()
    assert caught.value.extra["sent"] is False
    assert caught.value.extra["attempts"] == 5


def test_a_502_on_a_read_is_retried(emu: V2Emulator, client: CognigyV2Client) -> None:
    emu.app.fail_next("readProject", 502)
    client.read_project(PROJECT)
    assert [r.status for r in emu.app.calls(f"/projects/{PROJECT}")] == [502, 200]


def test_a_task_is_read_by_id_alone(emu: V2Emulator, client: CognigyV2Client) -> None:
    task = client.train_intents(SHOP_FLOW, EN)
    client.read_task(task.id)
    reads = emu.app.calls(f"/tasks/{task.id}")
    assert reads and all("projectId" not in r.query for r in reads)


def test_the_task_list_has_the_read_shape_and_creation_times(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    first = client.train_intents(SHOP_FLOW, EN)
    listed = {t.id: t for t in client.list_tasks(PROJECT)}
    assert listed[first.id].kind == "trainIntents"
    assert listed[first.id].created_at is not None

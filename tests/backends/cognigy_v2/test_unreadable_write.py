"""C1's other half: a write answered with a 2xx whose body cannot be read was accepted by
the service. It is looked up like a lost answer, but never sent again. Against the v2
emulator over real HTTP (its `garbled` faults answer an HTML page with a 2xx status)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.writes import accepted_unreadable
from ci_trainer.errors import ApiError, ContractError

from .conftest import FAST, PROJECT, SHOP_FLOW
from .test_reconcile_training import (
    LOGGER,
    REQUEST,
    notices,
    run_to_end,
    sends,
    shop_en,
    tasks_of,
)


def test_only_a_2xx_that_cannot_be_read_counts_as_accepted() -> None:
    assert accepted_unreadable(ContractError(call="c", message_text="not JSON", status=202))
    assert not accepted_unreadable(ContractError(call="c", message_text="x", status=None))
    assert not accepted_unreadable(ContractError(call="c", message_text="x", status=502))
    assert not accepted_unreadable(ApiError(call="c", message_text="x", status=200))


def test_an_unreadable_202_after_the_training_adopts_its_task_without_a_resend(
    emu: V2Emulator, intents_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu.app.fail_next("trainIntents", 202, style="applied-garbled")
    backend = shop_en(intents_dir, emu, import_mode=None)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        job = backend.start_training(backend.targets()[0], REQUEST, "k")
    [training] = tasks_of(emu, "trainIntents")
    assert sends(emu, "/intents/train") == 1
    assert job.training_id == training.id
    assert run_to_end(backend, job).state.value == "completed"
    [line] = notices(caplog)
    assert "the answer could not be read (HTTP 202)" in line and f"Task {training.id}" in line


def test_an_unreadable_202_with_nothing_listed_fails_and_is_never_sent_again(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 202, style="garbled")
    emu.app.fail_next("trainIntents", 502)  # a second send would meet this one
    backend = shop_en(intents_dir, emu, import_mode=None)
    with pytest.raises(ApiError) as caught:
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert sends(emu, "/intents/train") == 1
    assert len(emu.app.faults) == 1
    error = caught.value
    assert error.status == 202
    assert "the service accepted" in str(error) and "so it is not sent again" in str(error)
    assert f"check the trainIntents Tasks of project {PROJECT} for flowId {SHOP_FLOW}" in str(error)
    assert error.extra["may_have_applied"] is True


def test_an_unreadable_202_and_an_unreadable_task_list_fail_without_a_second_send(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.app.fail_next("trainIntents", 202, style="applied-garbled")
    for _ in range(FAST.max_attempts):
        emu.app.fail_next("indexTasks", 500)
    backend = shop_en(intents_dir, emu, import_mode=None)
    with pytest.raises(ApiError) as caught:
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert sends(emu, "/intents/train") == 1
    assert "could not be looked up" in str(caught.value)
    assert "what the service started cannot be followed" in str(caught.value)

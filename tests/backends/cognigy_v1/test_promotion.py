"""A v1 promotion is reported only when its answer and production say so (issue 14,
item 8): the answer must name the version and environment asked for, and production,
read back, must show them."""

from __future__ import annotations

import pytest

from ci_trainer.backend_types import Target
from ci_trainer.backends.cognigy_v1.backend import CognigyV1Backend
from ci_trainer.errors import ContractError

from .conftest import MODEL
from .server import Reply, ScriptedServer

TARGET = Target(id=MODEL, label=f"model {MODEL}")
PROMOTE = f"/models/{MODEL}/versions/v-3/promote"
PRODUCTION = f"/models/{MODEL}/versions/production"


def _answers(
    server: ScriptedServer, promoted: dict[str, object], production: dict[str, object]
) -> None:
    server.on("POST", PROMOTE, Reply(200, promoted))
    server.on("GET", PRODUCTION, Reply(200, production))


def test_an_answer_for_another_version_is_a_failed_step_naming_what_the_service_did(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    _answers(
        server,
        {"versionId": "v-9", "environment": "production"},
        {"versionId": "v-9", "environment": "production"},
    )
    promotion = backend.promote(TARGET, "v-3", "production")
    assert not promotion.promoted and promotion.version_id == "v-3"
    (step,) = promotion.steps
    assert (step.name, step.status, step.id) == ("promote", "failed", "v-9")
    assert step.detail == (
        "the service answered that it promoted version v-9 to production, not version v-3 "
        "to production; production shows version v-9 in production"
    )


def test_an_answer_for_another_environment_is_a_failed_step(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    _answers(server, {"versionId": "v-3", "environment": "staging"}, {"versionId": "v-1"})
    promotion = backend.promote(TARGET, "v-3", "production")
    assert not promotion.promoted
    (step,) = promotion.steps
    assert step.detail is not None
    assert "promoted version v-3 to staging, not version v-3 to production" in step.detail
    assert step.detail.endswith("production shows version v-1")


def test_a_right_answer_that_production_contradicts_leaves_the_outcome_unknown(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    _answers(server, {"versionId": "v-3"}, {"versionId": "v-1", "environment": "production"})
    with pytest.raises(ContractError) as caught:
        backend.promote(TARGET, "v-3", "production")
    assert caught.value.message_text == (
        "the service answered that version v-3 in production is promoted, but production "
        "shows version v-1 in production"
    )


def test_production_in_another_environment_is_not_ours(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    _answers(server, {"versionId": "v-3"}, {"versionId": "v-3", "environment": "staging"})
    with pytest.raises(ContractError, match="shows version v-3 in staging"):
        backend.promote(TARGET, "v-3", "production")


def test_a_service_without_the_production_endpoint_is_taken_at_its_answer(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    server.on("POST", PROMOTE, Reply(200, {"versionId": "v-3", "environment": "production"}))
    server.on("GET", PRODUCTION, Reply(404, {"title": "Not Found"}))
    promotion = backend.promote(TARGET, "v-3", "production")
    assert promotion.promoted
    assert [(s.name, s.status) for s in promotion.steps] == [
        ("promote", "done"),
        ("read back production", "skipped"),
    ]


def test_a_megabyte_version_id_in_the_answer_is_quoted_bounded(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    _answers(server, {"versionId": "v" * 1_000_000}, {"versionId": "v-1"})
    promotion = backend.promote(TARGET, "v-3", "production")
    (step,) = promotion.steps
    assert step.detail is not None and len(step.detail) < 500
    assert "(999900 more characters)" in step.detail

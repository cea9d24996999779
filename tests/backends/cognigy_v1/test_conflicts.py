"""A 409 says what it means for the call that got it (issue 14, item 9): only the train
POST takes an Idempotency-Key, so only its 409 gives key advice."""

from __future__ import annotations

import pytest

from ci_trainer.backends.cognigy_v1.client import TrainingClient
from ci_trainer.errors import ApiError

from .conftest import MODEL
from .server import Reply, ScriptedServer

CONFLICT = {"title": "Conflict", "detail": "the service says no"}
TRAIN_BODY = {"datasetIds": ["ds-1"], "validationSplit": 0.2, "hyperparameters": {}}


def _conflict(server: ScriptedServer, method: str, path: str) -> None:
    server.on(method, path, Reply(409, CONFLICT, content_type="application/problem+json"))


def test_a_409_on_the_train_post_is_about_the_idempotency_key(
    server: ScriptedServer, client: TrainingClient
) -> None:
    _conflict(server, "POST", f"/models/{MODEL}/train")
    with pytest.raises(ApiError) as caught:
        client.start_training(MODEL, TRAIN_BODY, idempotency_key="key-12345678")
    assert caught.value.status == 409
    assert "Idempotency-Key" in caught.value.message_text
    assert "new key" in str(caught.value.hint)


@pytest.mark.parametrize(
    ("method", "path", "call", "meaning", "fix"),
    [
        (
            "GET",
            f"/models/{MODEL}/training/t-1/metrics",
            lambda c: c.training_metrics(MODEL, "t-1"),
            "until the training is COMPLETED",
            "support",
        ),
        (
            "POST",
            f"/models/{MODEL}/versions/v-1/promote",
            lambda c: c.promote(MODEL, "v-1", "production"),
            "refused to promote this version",
            "check the model's production version",
        ),
        (
            "POST",
            f"/models/{MODEL}/training/t-1/cancel",
            lambda c: c.cancel_training(MODEL, "t-1"),
            "already ended",
            "no longer running",
        ),
    ],
    ids=["metrics", "promote", "cancel"],
)
def test_a_409_elsewhere_names_its_own_meaning_not_the_key(
    server: ScriptedServer,
    client: TrainingClient,
    method: str,
    path: str,
    call: object,
    meaning: str,
    fix: str,
) -> None:
    _conflict(server, method, path)
    with pytest.raises(ApiError) as caught:
        call(client)  # type: ignore[operator]
    error = caught.value
    assert error.status == 409 and error.detail == "the service says no"
    assert meaning in error.message_text
    assert fix in str(error.hint)
    assert "Idempotency-Key" not in str(error) and "new key" not in str(error)

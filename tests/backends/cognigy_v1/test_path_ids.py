"""No id can change which URL is called, and a 404 from an endpoint that answered
moments before is never read as a missing extension (issue 14, item 4, for cognigy-v1)."""

from __future__ import annotations

import pytest

from ci_trainer.backend_types import Target
from ci_trainer.backends.cognigy_v1 import contract
from ci_trainer.backends.cognigy_v1.backend import CognigyV1Backend
from ci_trainer.backends.cognigy_v1.client import ID_MAX_LENGTH, ID_PATTERN, make_call
from ci_trainer.errors import ApiError, ContractError, FeatureUnavailable

from .conftest import MODEL
from .server import Reply, ScriptedServer

TARGET = Target(id=MODEL, label=f"model {MODEL}")
# Ids that would leave their path segment: dot segments, separators, escapes.
HOSTILE_IDS = [
    ".",
    "..",
    "../admin",
    "a/b",
    "a?x=1",
    "a#frag",
    "%2e%2e",
    "a%2fb",
    " v1",
    "",
    "v\n1",
]


def test_the_client_id_rule_is_the_contracts() -> None:
    schema = contract.document()["components"]["schemas"]["Id"]
    assert schema["pattern"] == ID_PATTERN.pattern
    assert schema["maxLength"] == ID_MAX_LENGTH


@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_an_id_that_would_leave_its_segment_is_refused_before_sending(bad: str) -> None:
    with pytest.raises(ContractError, match="nothing was sent"):
        make_call("predict", modelId=MODEL, versionId=bad)
    with pytest.raises(ContractError):
        make_call("getTrainingStatus", modelId=bad, trainingId="t-1")


def test_a_production_version_made_of_dot_segments_is_refused(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    server.on("GET", f"/models/{MODEL}/versions/production", Reply(200, {"versionId": ".."}))
    with pytest.raises(ContractError) as caught:
        backend.production_version(TARGET)
    assert not isinstance(caught.value, FeatureUnavailable)
    assert "versionId" in str(caught.value)


def test_a_404_from_predict_after_it_answered_is_an_error_not_a_missing_endpoint(
    server: ScriptedServer, backend: CognigyV1Backend
) -> None:
    server.on(
        "POST",
        f"/models/{MODEL}/versions/v-new/predict",
        Reply(200, {"predictions": [{"intent": "a"}]}),
    )
    assert [p.intent for p in backend.predict(TARGET, "v-new", ["hi"])] == ["a"]
    # The champion's predict 404s (the scripted server knows no such version).
    with pytest.raises(ApiError) as caught:
        backend.predict(TARGET, "v-old", ["hi"])
    assert not isinstance(caught.value, FeatureUnavailable)
    assert caught.value.status == 404

"""Whatever a client sends, the emulator answers a documented problem, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator

from .conftest import DATASETS, ApiClient, check_response

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Shapes close to a real request, so validation gets past the first check now and then.
TRAINING_LIKE = st.fixed_dictionaries(
    {
        "datasetIds": st.lists(st.sampled_from(["ds-missing", "", "a b", "x" * 300]), max_size=3),
        "validationSplit": st.one_of(
            st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3)
        ),
        "hyperparameters": st.dictionaries(
            st.sampled_from(["epochs", "batchSize", "learningRate", "dropout", "seed"]),
            st.one_of(
                st.integers(-5, 1000), st.floats(allow_nan=False, allow_infinity=False), st.none()
            ),
        ),
    }
)


@pytest.fixture(scope="module")
def shared() -> Iterator[ApiClient]:
    with Emulator(DATASETS) as emu:
        yield ApiClient(emu)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(JSON, TRAINING_LIKE))
def test_any_training_body_is_refused_cleanly(shared: ApiClient, body: Any) -> None:
    response = shared.train(body if body is not None else "null")  # type: ignore[arg-type]
    assert response.status_code in (400, 202), response.text
    check_response("startTraining", response)
    if response.status_code == 202:  # a valid request on real data is a valid start
        shared.cancel(response.json()["trainingId"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON)
def test_any_predict_or_promote_body_is_refused_cleanly(shared: ApiClient, body: Any) -> None:
    for operation, path in (
        ("predict", "/models/m/versions/ver-00001/predict"),
        ("promoteVersion", "/models/m/versions/ver-00001/promote"),
    ):
        response = shared.call(operation, "POST", path, json=body)
        assert response.status_code in (400, 404), response.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(segment=st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and s not in ".."))
def test_any_path_parameter_is_a_404_or_answered(shared: ApiClient, segment: str) -> None:
    quoted = requests.utils.quote(segment, safe="")
    response = shared.call("getDatasetStats", "GET", f"/datasets/{quoted}/stats")
    assert response.status_code in (200, 404)

"""Fixtures for the emulator tests: the sample datasets, an emulator, and a checking client.

`ApiClient` talks real HTTP to the emulator and validates every response it sees against
`ci_trainer/backends/cognigy_v1/openapi.yaml` (status documented, body matches the schema, errors are
RFC 7807 problem documents with a traceId), unless a test breaks the body on purpose.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ci_trainer.backends.cognigy_v1.contract import documented_statuses, response_errors
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator

REPO = Path(__file__).resolve().parents[2]
SAMPLE_YAML = REPO / "datasets" / "customer_service.yaml"
SAMPLE_CSV = REPO / "datasets" / "smalltalk_cognigy.csv"
SAMPLE_HOLDOUT = REPO / "datasets" / "holdout.yaml"
SAMPLE_CONFIG = REPO / "training-config.yaml"
DATASETS = {"ds-cs": SAMPLE_YAML, "ds-smalltalk": SAMPLE_CSV}
MODEL = "shop-assistant"
ALL_SCOPES = "model:read model:write training:read training:write"


def train_body(**hyper: Any) -> dict[str, Any]:
    """A small, fast, seeded training request on both sample datasets."""
    hyperparameters = {
        "epochs": 10,
        "batchSize": 32,
        "learningRate": 0.001,
        "dropout": 0.3,
        "earlyStoppingPatience": 2,
        "seed": 7,
    }
    hyperparameters.update(hyper)
    return {
        "datasetIds": ["ds-cs", "ds-smalltalk"],
        "validationSplit": 0.2,
        "hyperparameters": hyperparameters,
    }


def check_response(operation_id: str, response: requests.Response) -> Any:
    """Assert the response conforms to the contract; returns the parsed body."""
    status = response.status_code
    documented = documented_statuses(operation_id)
    assert str(status) in documented or "default" in documented, (
        f"{operation_id}: HTTP {status} is not documented ({documented})"
    )
    body = response.json()
    if status >= 400:
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert body["status"] == status
        assert body["traceId"]
        assert body["detail"]
    else:
        assert response.headers["Content-Type"].startswith("application/json")
    problems = response_errors(operation_id, status, body)
    assert not problems, f"{operation_id}: HTTP {status} breaks the contract: {problems}"
    return body


class ApiClient:
    """Real HTTP to an emulator; every answer is checked against the contract."""

    def __init__(self, emu: Emulator, *, scope: str | None = ALL_SCOPES) -> None:
        self.emu = emu
        self.base = emu.base_url
        self.scope = scope
        self.session = requests.Session()
        self._token: str | None = None

    def token_response(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        grant_type: str = "client_credentials",
        scope: str | None = None,
    ) -> requests.Response:
        form = {
            "grant_type": grant_type,
            "client_id": client_id if client_id is not None else self.emu.client_id,
            "client_secret": client_secret if client_secret is not None else self.emu.client_secret,
        }
        if scope or self.scope:
            form["scope"] = scope or self.scope or ""
        return self.session.post(f"{self.base}/auth/token", data=form, timeout=10)

    def token(self) -> str:
        if self._token is None:
            response = self.token_response()
            body = check_response("getToken", response)
            assert response.status_code == 200, body
            self._token = str(body["access_token"])
        return self._token

    def call(
        self,
        operation_id: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        validate: bool = True,
        timeout: float = 10,
    ) -> requests.Response:
        sent = {"Authorization": f"Bearer {token or self.token()}", **(headers or {})}
        response = self.session.request(
            method, f"{self.base}{path}", json=json, headers=sent, timeout=timeout
        )
        if validate:
            check_response(operation_id, response)
        return response

    # -- one helper per operation --------------------------------------------------------

    def stats(self, dataset_id: str, **kw: Any) -> requests.Response:
        return self.call("getDatasetStats", "GET", f"/datasets/{dataset_id}/stats", **kw)

    def train(
        self,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        model: str = MODEL,
        **kw: Any,
    ) -> requests.Response:
        headers = {"Idempotency-Key": key} if key else None
        return self.call(
            "startTraining",
            "POST",
            f"/models/{model}/train",
            json=body or train_body(),
            headers=headers,
            **kw,
        )

    def status(self, training_id: str, model: str = MODEL, **kw: Any) -> requests.Response:
        path = f"/models/{model}/training/{training_id}/status"
        return self.call("getTrainingStatus", "GET", path, **kw)

    def metrics(self, training_id: str, model: str = MODEL, **kw: Any) -> requests.Response:
        path = f"/models/{model}/training/{training_id}/metrics"
        return self.call("getTrainingMetrics", "GET", path, **kw)

    def cancel(self, training_id: str, model: str = MODEL, **kw: Any) -> requests.Response:
        path = f"/models/{model}/training/{training_id}/cancel"
        return self.call("cancelTraining", "POST", path, **kw)

    def production(self, model: str = MODEL, **kw: Any) -> requests.Response:
        return self.call(
            "getProductionVersion", "GET", f"/models/{model}/versions/production", **kw
        )

    def predict(
        self, version_id: str, texts: list[str], model: str = MODEL, **kw: Any
    ) -> requests.Response:
        path = f"/models/{model}/versions/{version_id}/predict"
        return self.call("predict", "POST", path, json={"texts": texts}, **kw)

    def promote(
        self, version_id: str, model: str = MODEL, body: dict[str, Any] | None = None, **kw: Any
    ) -> requests.Response:
        path = f"/models/{model}/versions/{version_id}/promote"
        return self.call("promoteVersion", "POST", path, json=body, **kw)

    # -- flows ---------------------------------------------------------------------------

    def started(self, body: dict[str, Any] | None = None, **kw: Any) -> str:
        response = self.train(body, **kw)
        assert response.status_code == 202, response.text
        return str(response.json()["trainingId"])

    def wait(self, training_id: str, model: str = MODEL, timeout: float = 30) -> dict[str, Any]:
        """Poll (every 20 ms) until the job ends; returns the final status body."""
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.status(training_id, model).json()
            if body["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                return body
            assert time.monotonic() < deadline, f"training still {body['status']}"
            time.sleep(0.02)

    def trained_version_training(
        self, body: dict[str, Any] | None = None, model: str = MODEL
    ) -> str:
        """Train to COMPLETED; returns the training id."""
        training_id = self.started(body, model=model)
        assert self.wait(training_id, model)["status"] == "COMPLETED"
        return training_id

    def trained_version(self, body: dict[str, Any] | None = None, model: str = MODEL) -> str:
        """Train to COMPLETED; returns the version id."""
        training_id = self.trained_version_training(body, model)
        return str(self.metrics(training_id, model).json()["versionId"])


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(DATASETS) as emu:
        yield emu


@pytest.fixture
def api(emulator: Emulator) -> ApiClient:
    return ApiClient(emulator)

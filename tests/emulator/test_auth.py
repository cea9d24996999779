"""Auth like a real tenant: client credentials, token lifetime, and scopes per endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.faults import Fault, FaultPlan

from .conftest import DATASETS, ApiClient, check_response


def test_given_credentials_are_the_only_ones_accepted() -> None:
    with Emulator(DATASETS, client_id="team-ci", client_secret="right-secret-123") as emu:
        api = ApiClient(emu)
        assert emu.client_id == "team-ci"
        assert not emu.generated_credentials
        assert api.token_response().status_code == 200
        wrong = api.token_response(client_secret="wrong-secret-123")
        assert check_response("getToken", wrong)["status"] == 401
        unknown = api.token_response(client_id="someone", client_secret="right-secret-123")
        assert unknown.status_code == 401
        assert "right-secret" not in wrong.text + unknown.text


def test_generated_credentials_differ_per_emulator() -> None:
    first, second = Emulator(DATASETS), Emulator(DATASETS)
    assert first.generated_credentials
    assert first.client_id != second.client_id
    assert first.client_secret != second.client_secret
    assert len(first.client_secret) >= 24


def test_grant_type_must_be_client_credentials(api: ApiClient) -> None:
    response = api.token_response(grant_type="password")
    assert check_response("getToken", response)["status"] == 400


def test_requested_scopes_narrow_the_grant(api: ApiClient) -> None:
    body = api.token_response(scope="training:read").json()
    assert body["scope"] == "training:read"


def test_unknown_scope_is_400(api: ApiClient) -> None:
    response = api.token_response(scope="training:read admin:all")
    assert response.status_code == 400
    assert "admin:all" in response.json()["detail"]


def test_client_limited_to_some_scopes_gets_only_those() -> None:
    with Emulator(DATASETS, granted_scopes=["training:read"]) as emu:
        body = ApiClient(emu).token_response().json()
        assert body["scope"] == "training:read"
        refused = ApiClient(emu).token_response(scope="model:write")
        assert refused.status_code == 400


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-token-we-issued"],
    ids=["missing", "empty", "basic", "unknown"],
)
def test_resource_calls_without_a_valid_token_are_401(api: ApiClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{api.base}/datasets/ds-cs/stats", headers=headers, timeout=10)
    body = check_response("getDatasetStats", response)
    assert body["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_lifetime_is_configurable() -> None:
    with Emulator(DATASETS, token_expires_in=0.3) as emu:
        assert ApiClient(emu).token_response().json()["expires_in"] == 0.3


def test_expired_token_is_401_and_a_fresh_one_works() -> None:
    # Only the first token is short-lived, so nothing here races the clock but the sleep.
    plan = FaultPlan.of(Fault("getToken", "token_expires_in", calls=(1,), seconds=0.2))
    with Emulator(DATASETS, fault_plan=plan) as emu:
        api = ApiClient(emu)
        token = api.token_response().json()["access_token"]
        time.sleep(0.3)
        expired = api.stats("ds-cs", token=token)
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]
        fresh = api.token_response().json()["access_token"]
        assert api.stats("ds-cs", token=fresh).status_code == 200


def test_token_expires_in_fault_shortens_one_token_only() -> None:
    plan = FaultPlan.of(Fault("getToken", "token_expires_in", calls=(1,), seconds=0.2))
    with Emulator(DATASETS, fault_plan=plan) as emu:
        api = ApiClient(emu)
        short = api.token_response().json()
        assert short["expires_in"] == 0.2
        assert api.token_response().json()["expires_in"] == 3600
        time.sleep(0.3)
        assert api.stats("ds-cs", token=short["access_token"]).status_code == 401


# operationId -> (scope it needs, a call that exercises it)
SCOPED: dict[str, tuple[str, Callable[[ApiClient], requests.Response]]] = {
    "getDatasetStats": ("training:read", lambda api: api.stats("ds-cs")),
    "startTraining": ("training:write", lambda api: api.train()),
    "getTrainingStatus": ("training:read", lambda api: api.status("trn-x")),
    "getTrainingMetrics": ("training:read", lambda api: api.metrics("trn-x")),
    "cancelTraining": ("training:write", lambda api: api.cancel("trn-x")),
    "getProductionVersion": ("model:read", lambda api: api.production()),
    "predict": ("model:read", lambda api: api.predict("ver-1", ["hi"])),
    "promoteVersion": ("model:write", lambda api: api.promote("ver-1")),
}
EVERY_SCOPE = {"model:read", "model:write", "training:read", "training:write"}


@pytest.mark.parametrize("operation", sorted(SCOPED))
def test_each_endpoint_needs_its_scope(emulator: Emulator, operation: str) -> None:
    scope, exercise = SCOPED[operation]
    lacking = ApiClient(emulator, scope=" ".join(sorted(EVERY_SCOPE - {scope})))
    response = exercise(lacking)
    assert response.status_code == 403
    assert scope in response.json()["detail"]
    # With only that scope the same call gets past auth (to 2xx, 404 or 400).
    only = ApiClient(emulator, scope=scope)
    assert exercise(only).status_code not in (401, 403)


def test_forbidden_calls_change_nothing(emulator: Emulator) -> None:
    reader = ApiClient(emulator, scope="training:read model:read")
    assert reader.train().status_code == 403
    assert emulator.state.trainings == {}


def test_the_secret_stays_out_of_reprs() -> None:
    emu = Emulator(DATASETS, client_id="team-ci", client_secret="right-secret-123")
    for text in (repr(emu), repr(emu.service.auth.credentials)):
        assert "right-secret-123" not in text

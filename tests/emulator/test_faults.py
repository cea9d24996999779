"""Each kind of the fault plan, as a client sees it over HTTP, and the plan's own checks."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from ci_trainer.backends.cognigy_v1 import contract
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.emulator.faults import KINDS, OPERATIONS, Fault, FaultPlan, FaultPlanError

from .conftest import DATASETS, MODEL, REPO, ApiClient, check_response, train_body

Start = Callable[..., ApiClient]


@pytest.fixture
def start() -> Iterator[Start]:
    """`start(*faults, **emulator_kwargs)` -> a client of a fresh emulator with that plan."""
    started: list[Emulator] = []

    def make(*faults: Fault, **kwargs: Any) -> ApiClient:
        emu = Emulator(DATASETS, fault_plan=FaultPlan.of(*faults), **kwargs).start()
        started.append(emu)
        return ApiClient(emu)

    yield make
    for emu in started:
        emu.stop()


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_status_fault_answers_a_problem_on_the_scripted_call_only(
    start: Start, status: int
) -> None:
    api = start(Fault("getDatasetStats", "status", calls=(2,), status=status))
    assert api.stats("ds-cs").status_code == 200
    failed = api.stats("ds-cs", validate=False)
    assert failed.status_code == status
    assert failed.headers["Content-Type"].startswith("application/problem+json")
    assert failed.json()["traceId"]
    assert "Retry-After" not in failed.headers
    assert api.stats("ds-cs").status_code == 200
    assert [r.faults for r in api.emu.state.requests_for("getDatasetStats")] == [
        (),
        ("status",),
        (),
    ]


def test_retry_after_in_seconds(start: Start) -> None:
    api = start(Fault("getTrainingStatus", "status", status=429, retry_after=2))
    response = api.status("trn-x")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"


def test_retry_after_as_http_date(start: Start) -> None:
    api = start(Fault("getTrainingStatus", "status", status=503, retry_after_date=30))
    response = api.status("trn-x")
    assert response.status_code == 503
    when = parsedate_to_datetime(response.headers["Retry-After"])
    assert response.headers["Retry-After"].endswith("GMT")
    assert 20 < (when - datetime.now(timezone.utc)).total_seconds() <= 31


def test_a_failed_train_post_starts_nothing(start: Start) -> None:
    api = start(Fault("startTraining", "status", calls=(1,), status=503))
    assert api.train().status_code == 503
    assert api.emu.state.trainings == {}
    assert api.train().status_code == 202


def test_delay_beyond_the_client_timeout_is_a_read_timeout(start: Start) -> None:
    api = start(Fault("getProductionVersion", "delay", calls=(1,), seconds=0.6))
    with pytest.raises(requests.ReadTimeout):
        api.production(timeout=0.2)
    assert api.production().json()["versionId"] is None


def test_drop_before_closes_the_connection_and_processes_nothing(start: Start) -> None:
    api = start(Fault("startTraining", "drop", calls=(1,)))
    with pytest.raises(requests.ConnectionError):
        api.train()
    assert api.emu.state.trainings == {}
    assert api.emu.state.requests_for("startTraining")[0].status is None


def test_drop_after_loses_the_answer_but_a_keyed_retry_finds_the_same_job(
    start: Start,
) -> None:
    api = start(Fault("startTraining", "drop", calls=(1,), when="after"))
    with pytest.raises(requests.ConnectionError):
        api.train(key="run-7-train-key")
    assert len(api.emu.state.trainings) == 1
    retry = api.train(key="run-7-train-key")
    assert retry.status_code == 200
    assert list(api.emu.state.trainings) == [retry.json()["trainingId"]]


def test_malformed_json(start: Start) -> None:
    api = start(Fault("startTraining", "malformed_json", calls=(1,)))
    response = api.train(validate=False)
    assert response.status_code == 202
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(response.text)
    assert len(api.emu.state.trainings) == 1  # processed, only the answer is broken


def test_missing_field_defaults_to_the_first_required_one(start: Start) -> None:
    api = start(
        Fault("startTraining", "missing_field", calls=(1,)),
        Fault("getProductionVersion", "missing_field", calls=(1,), field="versionId"),
    )
    body = api.train(validate=False).json()
    assert "trainingId" not in body
    assert body["status"] == "QUEUED"
    production = api.production(validate=False).json()
    assert "versionId" not in production
    assert production["modelId"] == MODEL


def test_patch_injects_unknown_status_backwards_progress_and_bad_metrics(
    start: Start,
) -> None:
    api = start(
        Fault("getTrainingStatus", "patch", calls=(1,), set={"status": "PAUSED"}),
        Fault("getTrainingStatus", "patch", calls=(2,), set={"progress": 80}),
        Fault("getTrainingStatus", "patch", calls=(3,), set={"progress": 10}),
        Fault("getTrainingMetrics", "patch", set={"f1Score": float("nan"), "macro.f1": 1.7}),
    )
    training_id = api.started()
    assert api.status(training_id, validate=False).json()["status"] == "PAUSED"
    assert api.status(training_id, validate=False).json()["progress"] == 80
    assert api.status(training_id, validate=False).json()["progress"] == 10
    api.wait(training_id)
    response = api.metrics(training_id, validate=False)
    assert re.search(r'"f1Score": NaN', response.text)
    body = response.json()  # Python's json accepts the bare NaN token
    assert body["macro"]["f1"] == 1.7
    assert body["macro"]["precision"] <= 1.0  # the rest of the block is kept


def test_job_failed_ends_failed_with_the_scripted_message(start: Start) -> None:
    api = start(
        Fault("startTraining", "job_failed", calls=(1,), message="GPU worker lost", at_progress=30),
    )
    training_id = api.started()
    final = api.wait(training_id)
    assert final["status"] == "FAILED"
    assert final["message"] == "GPU worker lost"
    assert final["progress"] <= 30
    assert api.metrics(training_id).status_code == 409
    assert api.emu.state.versions == {}
    second = api.started()
    assert api.wait(second)["status"] == "COMPLETED"


def test_job_failed_without_a_message_explains_itself(start: Start) -> None:
    api = start(Fault("startTraining", "job_failed"))
    final = api.wait(api.started())
    assert final["status"] == "FAILED"
    assert "training engine failure" in final["message"]


def test_job_stuck_stays_running_until_cancelled(start: Start) -> None:
    api = start(Fault("startTraining", "job_stuck", calls=(1,), at_progress=40))
    training_id = api.started()
    deadline = time.monotonic() + 30
    while api.emu.state.trainings[training_id].compute_seconds is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # The real computation is over; the job must still not end.
    for _ in range(5):
        body = api.status(training_id).json()
        assert body["status"] == "RUNNING"
        assert body["progress"] <= 40
    assert api.cancel(training_id).json()["status"] == "CANCELLED"


def test_external_promotion_moves_production_mid_run(start: Start) -> None:
    api = start(Fault("getProductionVersion", "external_promotion", calls=(2,)))
    assert api.production().json()["versionId"] is None  # call 1: nothing yet
    ours = api.trained_version()
    theirs = api.production().json()  # call 2: a colleague promoted first
    assert theirs["versionId"] not in (None, ours)
    state = api.emu.state
    assert state.production[MODEL] == theirs["versionId"]
    trained_by = state.trainings[state.versions[theirs["versionId"]].training_id].client_id
    assert trained_by == "someone-else"


def test_wildcard_operation_and_every_call(start: Start) -> None:
    api = start(Fault("*", "status", calls=(1,), status=502))
    assert api.token_response().status_code == 502
    assert api.stats("ds-cs").status_code == 502
    assert api.stats("ds-cs").status_code == 200
    always = start(Fault("getDatasetStats", "status", status=500))
    assert {always.stats("ds-cs").status_code for _ in range(3)} == {500}


def test_delay_then_status_on_the_same_call_apply_in_order(start: Start) -> None:
    api = start(
        Fault("getDatasetStats", "delay", calls=(1,), seconds=0.6),
        Fault("getDatasetStats", "status", calls=(1,), status=503),
    )
    with pytest.raises(requests.ReadTimeout):
        api.stats("ds-cs", timeout=0.2)


# -- the plan itself -----------------------------------------------------------------------


def _docs_recipes() -> str:
    text = (REPO / "docs" / "emulator.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    return blocks[-1]


def test_every_recipe_in_the_docs_is_a_valid_plan(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(_docs_recipes(), encoding="utf-8")
    plan = FaultPlan.from_yaml(path)
    # Every kind the plan accepts has a recipe: a new kind fails here until it is documented.
    assert {fault.kind for fault in plan.faults} == set(KINDS)


def test_the_plan_knows_exactly_the_contracts_operations() -> None:
    # A hand-kept list: an operation added to openapi.yaml must be scriptable too.
    assert set(OPERATIONS) == set(contract.operations())


def test_emulator_loads_a_plan_from_a_yaml_path(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "faults:\n  - {operation: getDatasetStats, calls: 1, kind: status, status: 502}\n",
        encoding="utf-8",
    )
    with Emulator(DATASETS, fault_plan=path) as emu:
        api = ApiClient(emu)
        assert api.stats("ds-cs").status_code == 502
        assert api.stats("ds-cs").status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"operation": "getTrainingStatu", "kind": "status"}], "did you mean 'getTrainingStatus'"),
        ([{"operation": "getToken", "kind": "explode"}], "unknown kind 'explode'"),
        ([{"operation": "getToken", "kind": "job_stuck"}], "applies to startTraining only"),
        (
            [{"operation": "predict", "kind": "delay", "status": 500}],
            "do not apply to kind 'delay'",
        ),
        ([{"operation": "predict", "kind": "delay"}], "seconds: must be a positive number"),
        ([{"operation": "predict", "kind": "status", "calls": [0]}], "call numbers start at 1"),
        ([{"operation": "predict", "kind": "status", "calls": ["x"]}], "expected call numbers"),
        ([{"operation": "predict", "kind": "status", "status": 200}], "from 400 to 599"),
        ([{"operation": "predict", "kind": "patch"}], "set: give at least one"),
        ([{"operation": "predict", "kind": "drop", "when": "later"}], "'before' or 'after'"),
        ([{"kind": "status"}], "operation: required"),
        (["just a string"], "expected a mapping"),
        ({"faults": [], "extra": 1}, "unknown top-level key"),
    ],
)
def test_bad_plans_are_refused_naming_fault_and_field(data: object, message: str) -> None:
    with pytest.raises(FaultPlanError, match=re.escape(message)) as caught:
        FaultPlan.from_data(data, source="plan.yaml")
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("plan.yaml")


def test_unreadable_or_invalid_yaml_plan(tmp_path: Path) -> None:
    with pytest.raises(FaultPlanError, match="cannot read"):
        FaultPlan.from_yaml(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("faults: [\n", encoding="utf-8")
    with pytest.raises(FaultPlanError, match="not valid YAML"):
        FaultPlan.from_yaml(broken)


def test_an_empty_plan_injects_nothing() -> None:
    assert FaultPlan.from_data(None).faults == ()
    assert FaultPlan.from_data({"faults": []}).matching("predict", 1) == []


def test_problem_bodies_of_faults_match_the_contract(start: Start) -> None:
    api = start(Fault("getTrainingMetrics", "status", calls=(1,), status=503))
    check_response("getTrainingMetrics", api.metrics("trn-x", validate=False))
    assert train_body()["datasetIds"] == list(DATASETS)


def test_plan_can_be_replaced_while_serving_and_calls_keep_counting(start: Start) -> None:
    api = start()
    assert api.stats("ds-cs").status_code == 200
    assert api.emu.call_count("getDatasetStats") == 1
    api.emu.set_fault_plan(FaultPlan.of(Fault("getDatasetStats", "status", calls=(2,), status=500)))
    assert api.stats("ds-cs").status_code == 500
    assert api.emu.call_count("getDatasetStats") == 2
    api.emu.set_fault_plan(None)
    assert api.stats("ds-cs").status_code == 200
    assert api.emu.issued_tokens() == [api.token()]

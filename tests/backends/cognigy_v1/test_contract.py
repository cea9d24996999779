"""openapi.yaml: a valid OpenAPI 3.1 document, and the client agrees with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from ci_trainer.backends.cognigy_v1 import contract
from ci_trainer.backends.cognigy_v1.auth import REQUIRED_SCOPES
from ci_trainer.backends.cognigy_v1.client import EXTENSIONS, PATHS, PREDICT_MAX_TEXTS
from ci_trainer.errors import ContractError
from ci_trainer.http.policy import RetryPolicy


def test_openapi_document_is_valid_openapi_3_1() -> None:
    document = contract.document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_client_paths_and_extensions_match_the_contract() -> None:
    ops = contract.operations()
    assert {op_id: (op.method, op.path) for op_id, op in ops.items()} == PATHS
    assert {op_id for op_id, op in ops.items() if op.extension} == EXTENSIONS


def test_required_scopes_are_the_contracts_scopes() -> None:
    flows = contract.document()["components"]["securitySchemes"]["oauth2"]["flows"]
    assert set(flows["clientCredentials"]["scopes"]) == set(REQUIRED_SCOPES)
    assert contract.operation("promoteVersion").scopes == ("model:write",)
    assert contract.operation("getToken").scopes == ()


def test_predict_batch_limit_is_the_contracts_max_items() -> None:
    schema = contract.document()["components"]["schemas"]["PredictRequest"]
    assert schema["properties"]["texts"]["maxItems"] == PREDICT_MAX_TEXTS


def test_validate_response_accepts_a_conforming_body_with_extra_fields() -> None:
    body = {"trainingId": "t-1", "status": "RUNNING", "progress": 40, "newField": {"x": 1}}
    contract.validate_response("getTrainingStatus", 200, body)


def test_validate_response_names_every_bad_field() -> None:
    body = {"versionId": "v1", "f1Score": "0.9", "recall": 1.5}
    with pytest.raises(ContractError) as caught:
        contract.validate_response("getTrainingMetrics", 200, body)
    text = str(caught.value)
    assert "getTrainingMetrics" in text
    assert "field 'f1Score'" in text
    assert "field 'precision': missing" in text
    assert "field 'recall'" in text


def test_problem_bodies_are_checked_under_default_and_undocumented_statuses_pass() -> None:
    assert contract.response_errors("getTrainingStatus", 503, {"title": 5}) == [
        "field 'title': 5 is not of type 'string'"
    ]
    # getToken documents no 500: there is nothing to check against.
    assert contract.response_errors("getToken", 500, "<html>") == []


def test_request_errors_report_out_of_range_training_requests() -> None:
    good = {"datasetIds": ["ds-1"], "validationSplit": 0.2, "hyperparameters": {"epochs": 50}}
    assert contract.request_errors("startTraining", good) == []
    bad = {"datasetIds": [], "validationSplit": 0.9, "hyperparameters": {"batchSize": 4}}
    problems = contract.request_errors("startTraining", bad)
    assert any(p.startswith("field 'datasetIds'") for p in problems)
    assert any(p.startswith("field 'validationSplit'") for p in problems)
    assert any(p.startswith("field 'hyperparameters.batchSize'") for p in problems)


def test_token_lifetime_may_be_a_digit_string_but_not_zero_or_words() -> None:
    ok = {"access_token": "abcd", "expires_in": "3600"}
    assert contract.response_errors("getToken", 200, ok) == []
    for bad in ("0", "soon", 0, -5):
        assert contract.response_errors("getToken", 200, {**ok, "expires_in": bad})


def test_import_is_cheap_and_works_in_a_fresh_interpreter() -> None:
    code = (
        "import sys, ci_trainer.backends.cognigy_v1.contract\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema imported at start-up'\n"
        "assert ci_trainer.backends.cognigy_v1.contract.document.cache_info().currsize == 0\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_every_documented_response_and_request_schema_resolves() -> None:
    for operation_id in contract.operations():
        for key in contract.documented_statuses(operation_id):
            status = 500 if key == "default" else int(key)
            # `[]` is the wrong type for every body in the contract: each must complain.
            assert contract.response_errors(operation_id, status, []), (operation_id, key)
    with_bodies = ("getToken", "startTraining", "predict", "promoteVersion")
    for operation_id in with_bodies:
        assert contract.request_errors(operation_id, []), operation_id
    assert contract.request_errors("cancelTraining", []) == []  # no body to check


def test_the_readme_section_lists_every_endpoint_and_marks_the_extensions() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "contract.md").read_text("utf-8")
    assert text.startswith("## Training service contract\n")
    for op_id, op in contract.operations().items():
        (row,) = [line for line in text.splitlines() if line.startswith(f"| `{op_id}` |")]
        assert f"{op.method} {op.path}" in row
        assert row.rstrip(" |").endswith("extension") == op.extension, row
    policy = RetryPolicy()
    assert f"connect timeout ({policy.connect_timeout:g} s)" in text
    assert f"read timeout ({policy.read_timeout:g} s)" in text
    assert f"at most {policy.max_attempts} attempts" in text
    assert f"budget of {policy.run_retry_budget} retries" in text

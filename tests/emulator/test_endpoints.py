"""Every endpoint of the contract, over real HTTP, with every response checked against it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator

from .conftest import DATASETS, MODEL, SAMPLE_CSV, ApiClient, check_response, train_body


def test_token_carries_type_lifetime_and_granted_scopes(api: ApiClient) -> None:
    response = api.token_response()
    body = check_response("getToken", response)
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"].split() == sorted(
        ["model:read", "model:write", "training:read", "training:write"]
    )
    assert response.headers["Cache-Control"] == "no-store"


def test_stats_from_our_yaml_format(api: ApiClient) -> None:
    body = api.stats("ds-cs").json()
    assert body["datasetId"] == "ds-cs"
    assert body["intentCount"] == 13
    assert body["intentDistribution"]["track_order"] == 60
    assert body["intentDistribution"]["report_fraud"] == 10
    assert body["exampleCount"] == sum(body["intentDistribution"].values())
    # Only some examples carry a score; the average is over those.
    assert 0.85 <= body["averageAnnotationScore"] < 1.0


def test_stats_from_cognigy_csv_export(api: ApiClient) -> None:
    body = api.stats("ds-smalltalk").json()
    assert body["intentDistribution"] == {
        "goodbye": 30,
        "greeting": 32,
        "speak_to_agent": 32,
        "thanks": 30,
    }
    assert body["averageAnnotationScore"] is None  # the CSV export has no scores
    assert body["exampleCount"] == 124


def test_stats_follow_the_file_and_count_only_example_sentences(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "billing,description,Questions about bills\n"
        "billing,exampleSentence,Why is my bill so high\n"
        'billing,exampleSentence,"I was charged twice, why"\n'
        "billing,confirmationSentence,Is this about a bill?\n"
        "hours,exampleSentence,When are you open\n",
        encoding="utf-8",
    )
    scored = tmp_path / "scored.yaml"
    scored.write_text(
        "a: [{text: one, score: 0.5}, {text: two, score: 1.0}, three]\nb: [four]\n",
        encoding="utf-8",
    )
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("text,category\nhi there,greet\nbye now,leave\nhello,greet\n", "utf-8")
    with Emulator({"export": export, "scored": scored, "corpus": corpus}) as emu:
        api = ApiClient(emu)
        assert api.stats("export").json()["intentDistribution"] == {"billing": 2, "hours": 1}
        assert api.stats("corpus").json()["intentDistribution"] == {"greet": 2, "leave": 1}
        assert api.stats("scored").json()["averageAnnotationScore"] == 0.75
        scored.write_text("a: [{text: one, score: 0.9}]\nb: [two, three]\n", encoding="utf-8")
        body = api.stats("scored").json()
        assert body["intentDistribution"] == {"a": 1, "b": 2}
        assert body["averageAnnotationScore"] == 0.9


def test_unknown_dataset_is_404(api: ApiClient) -> None:
    response = api.stats("ds-nope")
    assert response.status_code == 404
    assert "ds-nope" in response.json()["detail"]


def test_corrupted_dataset_file_is_a_500_naming_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [one, two\n", encoding="utf-8")
    with Emulator({"broken": broken}) as emu:
        response = ApiClient(emu).stats("broken")
    assert response.status_code == 500
    assert "corrupted" in response.json()["detail"]


def test_train_status_metrics_promote_production_round_trip(api: ApiClient) -> None:
    started = api.train()
    assert started.status_code == 202
    started_body = started.json()
    assert started_body["status"] == "QUEUED"
    assert started_body["modelId"] == MODEL
    training_id = started_body["trainingId"]

    final = api.wait(training_id)
    assert final["status"] == "COMPLETED"
    assert final["progress"] == 100
    assert final["resourceUtilization"]["cpu"] >= 0
    assert final["resourceUtilization"]["memory"] > 0

    metrics = api.metrics(training_id).json()
    assert metrics["trainingId"] == training_id
    for key in ("f1Score", "precision", "recall", "accuracy"):
        assert 0.5 < metrics[key] <= 1.0
    assert 0.5 < metrics["macro"]["f1"] <= 1.0
    assert set(metrics["perIntent"]) >= {"track_order", "greeting", "report_fraud"}
    assert metrics["perIntent"]["track_order"]["support"] == 12  # 20 % of 60, stratified
    history = metrics["convergenceHistory"]
    assert [point["epoch"] for point in history] == list(range(1, len(history) + 1))
    assert history[-1]["trainLoss"] < history[0]["trainLoss"]

    version_id = metrics["versionId"]
    assert api.production().json() == {
        "modelId": MODEL,
        "versionId": None,
        "environment": "production",
        "promotedAt": None,
        "metrics": None,
    }
    promoted = api.promote(version_id, body={"environment": "production"}).json()
    assert promoted["versionId"] == version_id
    assert promoted["previousVersionId"] is None
    production = api.production().json()
    assert production["versionId"] == version_id
    assert production["metrics"]["f1Score"] == metrics["f1Score"]
    assert api.emu.state.production == {MODEL: version_id}


def test_second_promotion_reports_the_previous_version(api: ApiClient) -> None:
    first = api.trained_version()
    second = api.trained_version(train_body(seed=8))
    api.promote(first)
    assert api.promote(second).json()["previousVersionId"] == first
    assert api.production().json()["versionId"] == second


def test_predict_gives_top_intent_and_confidence_per_text_in_order(api: ApiClient) -> None:
    version_id = api.trained_version()
    texts = ["where is my parcel", "I forgot my password", "thank you so much"]
    body = api.predict(version_id, texts).json()
    assert body["versionId"] == version_id
    assert [p["text"] for p in body["predictions"]] == texts
    assert [p["intent"] for p in body["predictions"]] == ["track_order", "reset_password", "thanks"]
    assert all(0 < p["confidence"] <= 1 for p in body["predictions"])


def test_predict_refuses_more_than_100_texts(api: ApiClient) -> None:
    version_id = api.trained_version()
    response = api.predict(version_id, ["hello"] * 101)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "texts"


def test_versions_belong_to_their_model(api: ApiClient) -> None:
    version_id = api.trained_version()
    assert api.predict(version_id, ["hi"], model="other-model").status_code == 404
    assert api.promote(version_id, model="other-model").status_code == 404
    assert api.promote("ver-99999").status_code == 404


def test_unknown_training_is_404_also_under_another_model(api: ApiClient) -> None:
    training_id = api.started()
    assert api.status("trn-unknown").status_code == 404
    assert api.status(training_id, model="other-model").status_code == 404
    assert api.metrics("trn-unknown").status_code == 404
    assert api.cancel("trn-unknown").status_code == 404


def test_metrics_are_409_until_completed(tmp_path: Path) -> None:
    with Emulator(DATASETS, training_seconds=60) as emu:
        api = ApiClient(emu)
        training_id = api.started()
        response = api.metrics(training_id)
        assert response.status_code == 409
        assert "COMPLETED" in response.json()["detail"]
        api.cancel(training_id)


def test_training_request_is_validated_against_the_contract(api: ApiClient) -> None:
    bad = {"datasetIds": [], "validationSplit": 0.9, "hyperparameters": {"epochs": 5}}
    response = api.train(bad)
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"datasetIds", "validationSplit", "hyperparameters.epochs"}
    assert api.emu.state.trainings == {}


def test_training_on_an_unknown_dataset_is_400_naming_it(api: ApiClient) -> None:
    body = train_body()
    body["datasetIds"] = ["ds-cs", "ds-missing"]
    response = api.train(body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "datasetIds[1]", "message": "dataset 'ds-missing' does not exist"}
    ]


def test_non_json_body_is_400(api: ApiClient) -> None:
    response = api.session.post(
        f"{api.base}/models/{MODEL}/train",
        data="{not json",
        headers={"Authorization": f"Bearer {api.token()}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert (
        check_response("startTraining", response)["detail"] == "the request body is not valid JSON"
    )


def test_same_idempotency_key_and_body_replays_the_same_training(api: ApiClient) -> None:
    first = api.train(key="run-42-attempt-1")
    again = api.train(key="run-42-attempt-1")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["trainingId"] == first.json()["trainingId"]
    trainings = api.emu.state.trainings
    assert len(trainings) == 1
    assert trainings[first.json()["trainingId"]].idempotency_key == "run-42-attempt-1"


def test_same_idempotency_key_with_another_body_is_409(api: ApiClient) -> None:
    api.train(key="run-42-attempt-1")
    response = api.train(train_body(epochs=20), key="run-42-attempt-1")
    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["detail"]
    assert len(api.emu.state.trainings) == 1


def test_idempotency_key_outside_8_to_255_characters_is_400(api: ApiClient) -> None:
    response = api.train(key="short")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_unknown_path_and_wrong_method_are_problem_documents(api: ApiClient) -> None:
    missing = requests.get(f"{api.base}/models/{MODEL}/nothing", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    wrong = requests.delete(f"{api.base}/models/{MODEL}/train", timeout=10)
    assert wrong.status_code == 405
    assert "POST" in wrong.json()["detail"]


def test_request_log_records_method_path_operation_and_status(api: ApiClient) -> None:
    api.stats("ds-cs")
    api.stats("ds-nope")
    records = api.emu.state.requests_for("getDatasetStats")
    assert [(r.method, r.path, r.status, r.call) for r in records] == [
        ("GET", "/api/v1/datasets/ds-cs/stats", 200, 1),
        ("GET", "/api/v1/datasets/ds-nope/stats", 404, 2),
    ]
    assert records[0].client_id == api.emu.client_id


def test_from_config_serves_the_configs_datasets_and_holdout() -> None:
    from .conftest import SAMPLE_CONFIG, SAMPLE_HOLDOUT

    with Emulator.from_config(SAMPLE_CONFIG) as emu:
        api = ApiClient(emu)
        assert api.stats("ds-customer-service").json()["intentCount"] == 13
        assert api.stats("ds-smalltalk").json()["exampleCount"] == 124
        assert emu.holdout_path == SAMPLE_HOLDOUT


def test_from_config_reports_a_broken_dataset_at_start(tmp_path: Path) -> None:
    from ci_trainer.errors import DatasetError

    (tmp_path / "data.yaml").write_text("a: [one\n", encoding="utf-8")
    config = tmp_path / "training-config.yaml"
    config.write_text(
        "version: 1\nmodel: {id: m}\ndatasets:\n  - {id: ds, path: data.yaml}\n",
        encoding="utf-8",
    )
    with pytest.raises(DatasetError, match=r"data\.yaml"):
        Emulator.from_config(config, port=0)


def test_repr_and_base_url_never_show_the_secret() -> None:
    emu = Emulator({"ds": SAMPLE_CSV}, client_id="me", client_secret="s3cr3t-value-123")
    with emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.base_url.endswith("/api/v1")
        assert "s3cr3t" not in repr(emu)


def test_an_emulator_bug_is_a_500_problem_not_a_crash(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(dataset_id: str) -> dict[str, object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(api.emu.service, "dataset_stats", broken)
    response = api.stats("ds-cs")
    assert response.status_code == 500
    assert response.json()["detail"] == "internal error in the emulator"
    monkeypatch.undo()
    assert api.stats("ds-cs").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_scale": -1}, "must not be negative"),
        ({"training_seconds": -5}, "must not be negative"),
        ({"token_expires_in": 0}, "positive number of seconds"),
        ({"workers": 0}, "at least 1"),
        ({"granted_scopes": ["training:read", "admin"]}, "unknown scope"),
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Emulator(DATASETS, **kwargs)  # type: ignore[arg-type]


def test_every_contract_operation_is_routed_with_its_scopes(emulator: Emulator) -> None:
    from ci_trainer.backends.cognigy_v1.contract import operations

    from .test_auth import SCOPED

    routed = {rule.endpoint for rule in emulator.app.url_map.iter_rules()}
    assert routed == set(operations())
    assert set(SCOPED) | {"getToken"} == set(operations())
    for operation_id, (scope, _) in SCOPED.items():
        assert operations()[operation_id].scopes == (scope,)

"""Real training: metrics follow the data, hyperparameters matter, jobs run, stop and overlap."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.datasets import load_dataset
from ci_trainer.emulator.training import (
    TrainingRejected,
    TrainingSpec,
    stratified_split,
    train,
    weighted_f1,
)

from .conftest import DATASETS, MODEL, SAMPLE_YAML, ApiClient, train_body


def _corrupted_copy(tmp_path: Path, fraction: float, seed: int = 3) -> Path:
    """The sample YAML with `fraction` of the labels moved to a random other intent."""
    dataset = load_dataset(SAMPLE_YAML)
    intents = dataset.intents
    rng = random.Random(seed)
    moved: dict[str, list[str]] = {intent: [] for intent in intents}
    for example in dataset.examples:
        intent = example.intent
        if rng.random() < fraction:
            intent = rng.choice([other for other in intents if other != example.intent])
        moved[intent].append(example.text)
    path = tmp_path / f"corrupted-{fraction}.yaml"
    path.write_text(yaml.safe_dump(moved), encoding="utf-8")
    return path


def _f1(api: ApiClient, dataset_id: str) -> float:
    body = train_body()
    body["datasetIds"] = [dataset_id]
    training_id = api.started(body)
    assert api.wait(training_id)["status"] == "COMPLETED"
    return float(api.metrics(training_id).json()["f1Score"])


def test_corrupting_labels_lowers_f1(tmp_path: Path) -> None:
    datasets = {"clean": SAMPLE_YAML, "noisy": _corrupted_copy(tmp_path, 0.4)}
    with Emulator(datasets) as emu:
        api = ApiClient(emu)
        clean, noisy = _f1(api, "clean"), _f1(api, "noisy")
    assert clean > 0.75
    assert noisy < clean - 0.25


def test_same_seed_same_metrics_and_other_seed_other_model(api: ApiClient) -> None:
    runs = []
    for seed in (11, 11, 12):
        training_id = api.started(train_body(seed=seed))
        api.wait(training_id)
        runs.append(api.metrics(training_id).json())
    strip = ("versionId", "trainingId")
    same = [{k: v for k, v in run.items() if k not in strip} for run in runs[:2]]
    assert same[0] == same[1]
    assert runs[0]["versionId"] != runs[1]["versionId"]  # still two versions
    assert runs[2]["convergenceHistory"] != runs[0]["convergenceHistory"]


def test_request_without_seed_is_deterministic_too(api: ApiClient) -> None:
    body = train_body()
    del body["hyperparameters"]["seed"]
    results = []
    for _ in range(2):
        training_id = api.started(body)
        api.wait(training_id)
        results.append(api.metrics(training_id).json()["convergenceHistory"])
    assert results[0] == results[1]


def test_epochs_and_patience_bound_the_convergence_history(api: ApiClient) -> None:
    training_id = api.started(train_body(epochs=10, earlyStoppingPatience=20))
    api.wait(training_id)
    assert len(api.metrics(training_id).json()["convergenceHistory"]) == 10
    training_id = api.started(train_body(epochs=200, earlyStoppingPatience=1))
    api.wait(training_id)
    history = api.metrics(training_id).json()["convergenceHistory"]
    assert len(history) < 200
    best = max(point["validationF1"] for point in history)
    assert history[-1]["validationF1"] <= best  # stopped after an epoch without improvement


def test_learning_rate_and_dropout_change_the_model(api: ApiClient) -> None:
    histories = {}
    for name, hyper in {
        "base": {},
        "lr": {"learningRate": 0.0001},
        "dropout": {"dropout": 0.0},
    }.items():
        training_id = api.started(train_body(**hyper))
        api.wait(training_id)
        histories[name] = api.metrics(training_id).json()["convergenceHistory"]
    assert histories["lr"] != histories["base"]
    assert histories["dropout"] != histories["base"]
    # A tenth of the step learns more slowly: a higher loss after the first epoch.
    assert histories["lr"][0]["trainLoss"] > histories["base"][0]["trainLoss"]


def test_validation_split_is_stratified_and_seeded() -> None:
    labels = np.array(["a"] * 50 + ["b"] * 10 + ["c"] * 2 + ["d"])
    train_a, val_a = stratified_split(labels, 0.2, np.random.default_rng(1))
    _, val_b = stratified_split(labels, 0.2, np.random.default_rng(1))
    assert val_a.tolist() == val_b.tolist()
    counts = {intent: int(np.sum(labels[val_a] == intent)) for intent in "abcd"}
    assert counts == {"a": 10, "b": 2, "c": 1, "d": 0}
    assert sorted(train_a.tolist() + val_a.tolist()) == list(range(len(labels)))
    _, val_c = stratified_split(labels, 0.2, np.random.default_rng(2))
    assert val_c.tolist() != val_a.tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from("abcdf")), min_size=1, max_size=40)
)
def test_weighted_f1_matches_scikit_learn(pairs: list[tuple[str, str]]) -> None:
    from sklearn.metrics import f1_score

    truth = np.array([t for t, _ in pairs])
    predicted = np.array([p for _, p in pairs])
    expected = f1_score(truth, predicted, average="weighted", zero_division=0)
    assert weighted_f1(truth, predicted) == pytest.approx(expected, abs=1e-12)


def test_data_that_cannot_be_trained_on_is_rejected() -> None:
    with pytest.raises(TrainingRejected, match="two intents"):
        train(TrainingSpec(texts=["a", "b"], labels=["x", "x"]))
    with pytest.raises(TrainingRejected, match="validation split is empty"):
        train(TrainingSpec(texts=["a", "b"], labels=["x", "y"]))
    with pytest.raises(TrainingRejected, match="no usable words"):
        train(TrainingSpec(texts=["a", "b", "c", "d"], labels=["x", "x", "y", "y"]))


def test_a_job_on_untrainable_data_ends_failed_with_the_reason(tmp_path: Path) -> None:
    single = tmp_path / "single.yaml"
    single.write_text("only_intent: [one, two, three]\n", encoding="utf-8")
    with Emulator({"single": single}) as emu:
        api = ApiClient(emu)
        body = train_body()
        body["datasetIds"] = ["single"]
        final = api.wait(api.started(body))
    assert final["status"] == "FAILED"
    assert "two intents" in final["message"]


def test_cancel_stops_a_running_job_and_creates_no_version() -> None:
    with Emulator(DATASETS, training_seconds=60) as emu:
        api = ApiClient(emu)
        training_id = api.started()
        assert api.status(training_id).json()["status"] in ("QUEUED", "RUNNING")
        cancelled = api.cancel(training_id).json()
        assert cancelled["status"] == "CANCELLED"
        assert cancelled["message"]
        assert api.status(training_id).json()["status"] == "CANCELLED"
        assert api.metrics(training_id).status_code == 409
        assert emu.state.versions == {}


def test_cancel_of_a_finished_job_changes_nothing(api: ApiClient) -> None:
    training_id = api.started()
    api.wait(training_id)
    assert api.cancel(training_id).json()["status"] == "COMPLETED"
    assert api.metrics(training_id).status_code == 200


def test_a_queued_job_can_be_cancelled_before_a_worker_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ci_trainer.backends.cognigy_v1.emulator import service

    release = threading.Event()
    real_train = service.train

    def held_train(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)  # keeps the only worker busy until the test has looked
        return real_train(*args, **kwargs)

    monkeypatch.setattr(service, "train", held_train)
    with Emulator(DATASETS, workers=1) as emu:
        api = ApiClient(emu)
        first = api.started()
        second = api.started()
        assert api.status(second).json()["status"] == "QUEUED"
        cancelled = api.cancel(second).json()
        assert cancelled["status"] == "CANCELLED"
        assert "startedAt" not in cancelled  # it never ran
        release.set()
        assert api.wait(first)["status"] == "COMPLETED"
        assert api.status(second).json()["status"] == "CANCELLED"
        assert emu.state.trainings[second].epochs_run == 0


def test_training_seconds_stretch_the_apparent_time_and_progress_rises() -> None:
    with Emulator(DATASETS, training_seconds=30) as emu:
        api = ApiClient(emu)
        training_id = api.started()
        seen = []
        for _ in range(5):
            body = api.status(training_id).json()
            assert body["status"] in ("QUEUED", "RUNNING")
            seen.append(body["progress"])
        assert seen == sorted(seen)
        assert seen[-1] < 100
        api.cancel(training_id)


def test_time_scale_multiplies_the_nominal_length() -> None:
    # 0.3 s nominal x 0 = as fast as the computation; x 1000 would be 5 minutes.
    with Emulator(DATASETS, training_seconds=0.3, time_scale=0) as emu:
        api = ApiClient(emu)
        assert api.wait(api.started())["status"] == "COMPLETED"
    with Emulator(DATASETS, training_seconds=0.3, time_scale=1000) as emu:
        api = ApiClient(emu)
        training_id = api.started()
        view = emu.wait_for_training(training_id, timeout=0.5)
        assert view.status in ("QUEUED", "RUNNING")
        api.cancel(training_id)


def test_concurrent_trainings_from_several_pipelines(emulator: Emulator) -> None:
    results: dict[int, tuple[str, str, float]] = {}
    errors: list[BaseException] = []

    def pipeline(number: int) -> None:
        try:
            api = ApiClient(emulator)
            model = f"model-{number % 2}"
            training_id = api.started(train_body(seed=number), model=model)
            final = api.wait(training_id, model)
            assert final["status"] == "COMPLETED"
            metrics = api.metrics(training_id, model).json()
            api.promote(metrics["versionId"], model=model)
            results[number] = (training_id, metrics["versionId"], metrics["f1Score"])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=pipeline, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len({training_id for training_id, _, _ in results.values()}) == 6
    assert len({version_id for _, version_id, _ in results.values()}) == 6
    state = emulator.state
    assert len(state.versions) == 6
    assert set(state.production) == {"model-0", "model-1"}
    assert all(view.status == "COMPLETED" for view in state.trainings.values())
    assert {v.model_id for v in state.versions.values()} == {"model-0", "model-1"}
    assert MODEL not in state.production

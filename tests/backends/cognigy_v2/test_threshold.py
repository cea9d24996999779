"""Holdout scores as the live bot sees them (C11) and child intents in the metrics (C13).

The flow settings' `intentThreshold.lower` is read once and a top `nlu/scores` score below
it counts as no intent, for the candidate and production alike; with
`cognigy_v2.apply_intent_threshold: false` the raw top intents are compared. The intent
list always asks for `includeChildren`, so an intent under a parent is in the metrics.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ci_trainer.audit.schema import schema_problem
from ci_trainer.backend_types import JobState, TrainingJob, TrainingRequest
from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.options import V2Target, options_from_config
from ci_trainer.config import load_config
from ci_trainer.config.cognigy_v2 import CognigyV2Section
from ci_trainer.datasets import Dataset, Example, load_dataset
from ci_trainer.decision import Decision
from ci_trainer.errors import ConfigError, ContractError
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.redact import Redactor
from ci_trainer.report import render_summary
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.schemas import CONFIG_SCHEMA_PATH
from ci_trainer.settings import Settings

from .conftest import EN, PROJECT, SHOP_FLOW, make_backend

REQUEST = TrainingRequest(dataset_ids=[], validation_split=0.2, hyperparameters={})
# Scores of the shop model in the emulator: about 0.88, 0.14 (two of its five words are
# shop words) and 0.0 (none is).
TEXTS = ["where is my order", "what is the weather like", "blue banana sky"]
API_KEY = "v2-emulator-threshold-key-9f3a"
FAST_HTTP = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


def trained(
    emu: V2Emulator, intents_dir: Path, **options: object
) -> tuple[CognigyV2Backend, TrainingJob]:
    """A backend on the Shop flow in EN alone, its access checked, trained."""
    shop = (V2Target(SHOP_FLOW, EN, intents_dir / "shop.json"),)
    backend = make_backend(emu, intents_dir, targets=shop, import_mode=None, **options)
    backend.check_access()
    job = backend.start_training(backend.targets()[0], REQUEST, "k")
    deadline = time.monotonic() + 20
    while not backend.training_status(job).state.terminal and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend.training_status(job).state is JobState.COMPLETED
    return backend, job


def trained_shop(emu: V2Emulator, intents_dir: Path, **options: object) -> CognigyV2Backend:
    return trained(emu, intents_dir, **options)[0]


def raw_top(client: CognigyV2Client, emu: V2Emulator, text: str) -> tuple[str | None, float]:
    """The top score as `nlu/scores` answers it, asked directly (the oracle)."""
    flow = emu.service.projects[PROJECT].content.flows[SHOP_FLOW]
    locale = emu.service.projects[PROJECT].content.locales[EN]
    top = client.nlu_scores(PROJECT, text, flow.reference_id, locale.reference_id)[0]
    return top.name, top.score


# ---------------------------------------------------------------- the backend


def test_a_top_score_below_the_flows_lower_threshold_is_no_intent(
    emu: V2Emulator, intents_dir: Path, client: CognigyV2Client
) -> None:
    backend = trained_shop(emu, intents_dir)
    predictions = backend.predict(backend.targets()[0], f"{PROJECT}:candidate", TEXTS)
    raw = [raw_top(client, emu, text) for text in TEXTS]
    # The emulator's default is Cognigy's: reconfirmation (lower) 0.2, confidence 0.4.
    assert [p.threshold for p in predictions] == [0.2, 0.2, 0.2]
    assert [p.below_threshold for p in predictions] == [score < 0.2 for _, score in raw]
    assert [p.below_threshold for p in predictions] == [False, True, True]
    assert [p.intent for p in predictions] == [raw[0][0], None, None]
    # The raw top score is kept: the summary and audit show what the service said.
    assert [p.confidence for p in predictions] == [score for _, score in raw]
    # Read once for the run (with the access check), whatever the number of texts.
    assert [r.path for r in emu.app.calls("/settings")] == [f"/new/v2.0/flows/{SHOP_FLOW}/settings"]


def test_the_threshold_is_the_one_the_flow_settings_carry(
    emu: V2Emulator, intents_dir: Path, client: CognigyV2Client
) -> None:
    emu.set_intent_threshold(SHOP_FLOW, 0.9, 0.95)
    backend = trained_shop(emu, intents_dir)
    prediction = backend.predict(backend.targets()[0], f"{PROJECT}:candidate", TEXTS[:1])[0]
    name, score = raw_top(client, emu, TEXTS[0])
    assert name == "track_order" and 0.2 < score < 0.9  # in-domain, but under 0.9
    assert (prediction.intent, prediction.threshold, prediction.below_threshold) == (
        None,
        0.9,
        True,
    )


def test_between_lower_and_upper_is_still_the_intent(
    emu: V2Emulator, intents_dir: Path, client: CognigyV2Client
) -> None:
    """Cognigy asks for a reconfirmation there (or takes the intent): not "no intent"."""
    emu.set_intent_threshold(SHOP_FLOW, 0.1, 0.95)
    backend = trained_shop(emu, intents_dir)
    predictions = backend.predict(backend.targets()[0], f"{PROJECT}:candidate", TEXTS[:2])
    assert [p.intent for p in predictions] == [raw_top(client, emu, t)[0] for t in TEXTS[:2]]
    assert not any(p.below_threshold for p in predictions)


def test_with_the_setting_off_the_raw_top_intents_are_predicted(
    emu: V2Emulator, intents_dir: Path, client: CognigyV2Client
) -> None:
    backend = trained_shop(emu, intents_dir, apply_intent_threshold=False)
    notices = backend.check_access().notices
    predictions = backend.predict(backend.targets()[0], f"{PROJECT}:candidate", TEXTS)
    assert [p.intent for p in predictions] == [raw_top(client, emu, t)[0] for t in TEXTS]
    assert all(p.intent is not None for p in predictions)
    assert all(p.threshold is None and not p.below_threshold for p in predictions)
    assert emu.app.calls("/settings") == []
    assert any("cognigy_v2.apply_intent_threshold: false" in notice for notice in notices)


@pytest.mark.parametrize(
    "threshold",
    [{"lower": 0.6, "upper": 0.3}, {"lower": "0.2", "upper": 0.4}, {"lower": 1.5, "upper": 2}],
    ids=["lower-above-upper", "text", "above-one"],
)
def test_a_malformed_threshold_fails_the_access_check_naming_the_setting(
    emu: V2Emulator, intents_dir: Path, threshold: dict[str, Any]
) -> None:
    emu.service.projects[PROJECT].content.flows[SHOP_FLOW].intent_threshold = threshold
    backend = make_backend(emu, intents_dir)
    with pytest.raises(ContractError) as caught:
        backend.check_access()
    assert "intentThreshold" in str(caught.value)
    assert "cognigy_v2.apply_intent_threshold: false" in str(caught.value)
    assert emu.app.calls("/intents/train") == []  # before anything is trained


def test_settings_without_a_threshold_score_raw_and_say_so(
    emu: V2Emulator, intents_dir: Path
) -> None:
    emu.service.projects[PROJECT].content.flows[SHOP_FLOW].intent_threshold = None
    backend = make_backend(emu, intents_dir)
    notices = backend.check_access().notices
    assert any("carry no intentThreshold" in notice for notice in notices)


# ---------------------------------------------------------------- child intents (C13)


def test_every_intents_list_request_asks_for_child_intents(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    # 130 intents: two pages of the client's 100.
    examples = tuple(Example(text=f"sentence {i}", intent=f"intent_{i:03d}") for i in range(130))
    many = Dataset(path="many.json", format="cognigy-json", sha256="0" * 64, examples=examples)
    emu.service.set_intents(SHOP_FLOW, EN, many)
    emu.set_parent_intent(SHOP_FLOW, "intent_129", "intent_000")
    names = {item["name"] for item in client.list_intents(SHOP_FLOW, EN)}
    assert len(names) == 130 and "intent_129" in names
    calls = emu.app.calls(f"/flows/{SHOP_FLOW}/intents")
    assert len(calls) == 2
    assert all(call.query.get("includeChildren") == "true" for call in calls)


def test_the_emulator_hides_child_intents_without_include_children(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    emu.set_parent_intent(SHOP_FLOW, "cancel_order", "track_order")
    query = {"preferredLocaleId": EN, "limit": 100}
    answer = client.send("indexIntents", "GET", f"/flows/{SHOP_FLOW}/intents", query=query)
    listed = {item["name"] for item in answer.json()["items"]}
    assert listed == {"track_order", "refund_status"}
    children = {item["name"]: item for item in client.list_intents(SHOP_FLOW, EN)}
    parent_id = emu.service.projects[PROJECT].content.flows[SHOP_FLOW].intents["track_order"].id
    assert children["cancel_order"]["parentIntentId"] == parent_id


def test_child_intents_are_counted_in_the_metrics(emu: V2Emulator, intents_dir: Path) -> None:
    emu.set_parent_intent(SHOP_FLOW, "cancel_order", "track_order")
    backend, job = trained(emu, intents_dir)
    metrics = backend.training_metrics(job)
    assert {s.intent for s in metrics.per_intent} == {
        "track_order",
        "cancel_order",
        "refund_status",
    }
    assert all(s.f1 is not None for s in metrics.per_intent)


# ---------------------------------------------------------------- whole runs and the summary

SHOP_FLOW_ID = "64a1f0c2e4b0a1b2c3d4e601"  # the sample config's holdout flow
EN_US = "64a1f0c2e4b0a1b2c3d4e701"


@pytest.fixture
def project(tmp_path: Path, repo_root: Path) -> Path:
    """The sample v2 project, copied, with a fast poll floor and its holdout's flow x
    locale as the only target (one training per run)."""
    target = tmp_path / "cognigy-v2"
    shutil.copytree(repo_root / "examples/cognigy-v2", target)
    config = target / "training-config.yaml"

    def fast(data: dict[str, Any]) -> None:
        data["training"]["poll_interval_floor_seconds"] = 0.1
        shop = {"flow_id": SHOP_FLOW_ID, "locales": [EN_US], "dataset": "shop-intents"}
        data["cognigy_v2"]["targets"] = [shop]

    rewrite(config, fast)
    # Two utterances per intent: every one costs a request per model and run.
    holdout = target / "holdout-shop.yaml"
    texts = yaml.safe_load(holdout.read_text(encoding="utf-8"))
    holdout.write_text(yaml.safe_dump({k: v[:2] for k, v in texts.items()}), encoding="utf-8")
    return config


def rewrite(config: Path, change: Any) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    change(data)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.fixture
def sample_emu(project: Path) -> Iterator[V2Emulator]:
    emulator = V2Emulator.from_config(project, api_key=API_KEY, epochs=10)
    emulator.start()
    yield emulator
    emulator.stop()


def run(config: Path, emu: V2Emulator, mode: Mode) -> RunResult:
    settings = Settings.from_env(
        {"COGNIGY_API_KEY": API_KEY, "COGNIGY_BASE_URL": emu.base_url},
        config_path=config,
        mode=mode,
    )
    return execute(settings, ConsoleReporter(), stop=threading.Event(), retry_policy=FAST_HTTP)


def holdout_as_the_bot_sees_it(
    emu: V2Emulator, project_id: str, texts: list[str], threshold: float | None
) -> list[str | None]:
    """Each holdout text's top intent from `nlu/scores`, None below `threshold`."""
    source = emu.service.projects[next(iter(emu.service.projects))].content
    flow_ref = source.flows[SHOP_FLOW_ID].reference_id
    locale_ref = source.locales[EN_US].reference_id
    with CognigyV2Client(emu.base_url, API_KEY, redactor=Redactor(), policy=FAST_HTTP) as api:
        tops = [api.nlu_scores(project_id, text, flow_ref, locale_ref)[0] for text in texts]
    return [None if threshold is not None and top.score < threshold else top.name for top in tops]


def test_a_run_holds_both_models_to_the_threshold_and_the_summary_says_so(
    project: Path, sample_emu: V2Emulator
) -> None:
    assert run(project, sample_emu, Mode.PROMOTE).decision is Decision.PROMOTED
    section = yaml.safe_load(project.read_text(encoding="utf-8"))["cognigy_v2"]
    source, production = section["project_id"], section["promotion"]["target_project_id"]
    # High enough that in-domain utterances fall below too, on either model.
    sample_emu.set_intent_threshold(SHOP_FLOW_ID, 0.5, 0.6)
    holdout = load_dataset(project.parent / "holdout-shop.yaml")
    texts, labels = list(holdout.texts), list(holdout.labels)

    result = run(project, sample_emu, Mode.TRAIN)
    champion = result.champion
    assert champion is not None, (result.champion_note, result.error)
    candidate = holdout_as_the_bot_sees_it(sample_emu, source, texts, 0.5)
    current = holdout_as_the_bot_sees_it(sample_emu, production, texts, 0.5)
    below = (candidate.count(None), current.count(None))
    assert below[0] > 0 and below[1] > 0  # the threshold matters for this holdout
    assert champion.score_threshold == 0.5
    assert (champion.candidate_below_threshold, champion.production_below_threshold) == below
    # Counted as no intent, i.e. wrong, by the gate's own figures.
    assert champion.candidate_accuracy == pytest.approx(accuracy(labels, candidate))
    assert champion.production_accuracy == pytest.approx(accuracy(labels, current))

    summary = render_summary(result)
    assert "a top score below the service's threshold 0.500 counts as no intent" in summary
    n = len(texts)
    assert f"Below it: {below[0]} of {n} candidate and {below[1]} of {n} production" in summary

    record = json.loads(
        (project.parent / "cognigy_training_audit.log").read_text("utf-8").splitlines()[-1]
    )
    assert schema_problem(record) is None
    assert record["champion"]["scoreThreshold"] == 0.5
    assert record["champion"]["candidateBelowThreshold"] == below[0]

    # Switched off: the raw top intents, no threshold in the summary, a notice instead.
    rewrite(project, lambda data: data["cognigy_v2"].update(apply_intent_threshold=False))
    settings_reads = len(sample_emu.app.calls("/settings"))
    raw = run(project, sample_emu, Mode.TRAIN)
    assert raw.champion is not None and raw.champion.score_threshold is None
    assert raw.champion.candidate_accuracy == pytest.approx(
        accuracy(labels, holdout_as_the_bot_sees_it(sample_emu, source, texts, None))
    )
    assert len(sample_emu.app.calls("/settings")) == settings_reads
    raw_summary = render_summary(raw)
    assert "Below it:" not in raw_summary
    assert any("apply_intent_threshold: false" in m.text for m in raw.messages)


def accuracy(labels: list[str], predicted: list[str | None]) -> float:
    return sum(p == g for p, g in zip(predicted, labels, strict=True)) / len(labels)


# ---------------------------------------------------------------- the setting


def test_the_schema_and_the_model_agree_on_the_setting() -> None:
    committed = json.loads(CONFIG_SCHEMA_PATH.read_text(encoding="utf-8"))
    prop = committed["$defs"]["CognigyV2Section"]["properties"]["apply_intent_threshold"]
    assert prop["type"] == "boolean" and prop["default"] is True
    assert CognigyV2Section.model_fields["apply_intent_threshold"].default is True


@pytest.mark.parametrize(("value", "expected"), [(None, True), (True, True), (False, False)])
def test_the_setting_reaches_the_backend_options(
    project: Path, value: bool | None, expected: bool
) -> None:
    if value is not None:
        rewrite(project, lambda data: data["cognigy_v2"].update(apply_intent_threshold=value))
    data = yaml.safe_load(project.read_text(encoding="utf-8"))
    jsonschema.validate(data, json.loads(CONFIG_SCHEMA_PATH.read_text(encoding="utf-8")))
    assert options_from_config(load_config(project), "run").apply_intent_threshold is expected


def test_a_setting_that_is_not_a_boolean_is_refused_by_model_and_schema(project: Path) -> None:
    rewrite(project, lambda data: data["cognigy_v2"].update(apply_intent_threshold="sometimes"))
    data = yaml.safe_load(project.read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(CONFIG_SCHEMA_PATH.read_text(encoding="utf-8")))
    with pytest.raises(ConfigError) as caught:
        load_config(project)
    assert "apply_intent_threshold" in str(caught.value)

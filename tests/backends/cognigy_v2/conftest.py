"""Fixtures for the cognigy-v2 tests: a seeded v2 emulator, a client and a backend on it.

The data is small (two flows, three flow x locale targets, a few dozen sentences each)
so a training takes a fraction of a second.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from ci_trainer.backends.cognigy_v2.backend import CognigyV2Backend
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.emulator.app import V2Variants
from ci_trainer.backends.cognigy_v2.emulator.server import TargetSeed, V2Emulator
from ci_trainer.backends.cognigy_v2.options import V2Options, V2Target
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.redact import Redactor
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

PROJECT = "a1" * 12
TARGET_PROJECT = "b2" * 12
SHOP_FLOW = "c3" * 12
TALK_FLOW = "d4" * 12
EN = "e5" * 12
DE = "f6" * 12

SHOP_INTENTS = {
    "track_order": [
        "where is my order",
        "track my parcel",
        "when does my package arrive",
        "has my order shipped",
        "delivery status please",
        "where is my delivery",
        "my parcel has not arrived",
        "tracking number for my order",
    ],
    "cancel_order": [
        "cancel my order",
        "I want to cancel the purchase",
        "please stop my order",
        "cancel the order I placed",
        "do not send my order",
        "I changed my mind cancel it",
        "revoke my order",
        "cancel order number 5",
    ],
    "refund_status": [
        "where is my refund",
        "when do I get my money back",
        "refund not received",
        "status of my refund",
        "has the refund been paid",
        "money back status",
        "I am waiting for a refund",
        "refund still missing",
    ],
}
TALK_CSV = (
    "\n".join(
        f"{intent},exampleSentence,{text}"
        for intent, texts in {
            "greeting": ["hello", "hi there", "good morning", "hey", "hi", "good evening"],
            "goodbye": ["bye", "see you", "goodbye", "talk later", "cheerio", "bye bye"],
        }.items()
        for text in texts
    )
    + "\ngreeting,confirmationSentence,Did you say hello?\n"
)

FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.01, max_retry_after=5)


def shop_json(intents: dict[str, list[str]] = SHOP_INTENTS) -> str:
    return json.dumps([{"name": k, "exampleSentences": v} for k, v in intents.items()], indent=1)


@pytest.fixture
def intents_dir(tmp_path: Path) -> Path:
    (tmp_path / "shop.json").write_text(shop_json(), encoding="utf-8")
    (tmp_path / "smalltalk.csv").write_text(TALK_CSV, encoding="utf-8")
    return tmp_path


def seeds(intents_dir: Path) -> list[TargetSeed]:
    return [
        TargetSeed(SHOP_FLOW, [EN, DE], intents_dir / "shop.json", "Shop"),
        TargetSeed(TALK_FLOW, [EN], intents_dir / "smalltalk.csv", "Smalltalk"),
    ]


EmulatorFactory = Callable[..., V2Emulator]


@pytest.fixture
def make_emulator(intents_dir: Path) -> Iterator[EmulatorFactory]:
    started: list[V2Emulator] = []

    def make(variants: V2Variants | None = None, **kwargs: object) -> V2Emulator:
        kwargs.setdefault("epochs", 10)
        emu = V2Emulator(variants=variants, **kwargs)  # type: ignore[arg-type]
        emu.seed(PROJECT, seeds(intents_dir), extra_projects=[TARGET_PROJECT])
        started.append(emu.start())
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emu(make_emulator: EmulatorFactory) -> V2Emulator:
    return make_emulator()


def make_client(emu: V2Emulator, **kwargs: object) -> CognigyV2Client:
    kwargs.setdefault("policy", FAST)
    return CognigyV2Client(emu.base_url, emu.api_key, redactor=Redactor(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def client(emu: V2Emulator) -> Iterator[CognigyV2Client]:
    api = make_client(emu)
    yield api
    api.close()


def targets(intents_dir: Path) -> tuple[V2Target, ...]:
    return (
        V2Target(SHOP_FLOW, EN, intents_dir / "shop.json"),
        V2Target(SHOP_FLOW, DE, intents_dir / "shop.json"),
        V2Target(TALK_FLOW, EN, intents_dir / "smalltalk.csv"),
    )


def make_backend(
    emu: V2Emulator, intents_dir: Path, stop: threading.Event | None = None, **options: object
) -> CognigyV2Backend:
    options.setdefault("targets", targets(intents_dir))
    options.setdefault("task_poll_seconds", 0.02)
    options.setdefault("task_timeout_seconds", 20.0)
    opts = V2Options(project_id=PROJECT, **options)  # type: ignore[arg-type]
    # As in the runner: waits wake on `stop`, but the client is not stopped by it, so
    # the cancel of a remote task still goes out after a SIGTERM.
    client = make_client(emu, wait=stop.wait) if stop else make_client(emu)
    return CognigyV2Backend(client, opts, stop=stop)


# ------------------------------------------------------------------ the sample project

SAMPLE_API_KEY = "v2-emulator-api-key-5d1e77"
FAST_HTTP = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture
def project(tmp_path: Path, repo_root: Path) -> Path:
    """The sample v2 project (examples/cognigy-v2), copied, with a fast poll floor."""
    target = tmp_path / "cognigy-v2"
    shutil.copytree(repo_root / "examples/cognigy-v2", target)
    config = target / "training-config.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["training"]["poll_interval_floor_seconds"] = 0.1
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


@pytest.fixture
def sample_emu(project: Path) -> Iterator[V2Emulator]:
    """A v2 emulator holding what the sample config names."""
    emulator = V2Emulator.from_config(project, api_key=SAMPLE_API_KEY, epochs=10)
    emulator.start()
    yield emulator
    emulator.stop()


def run_sample(config: Path, emu: V2Emulator, mode: Mode = Mode.TRAIN, **env: str) -> RunResult:
    """A whole run of `config` against `emu`, as the CLI runs it."""
    settings = Settings.from_env(
        {"COGNIGY_API_KEY": SAMPLE_API_KEY, "COGNIGY_BASE_URL": emu.base_url, **env},
        config_path=config,
        mode=mode,
    )
    return execute(settings, ConsoleReporter(), stop=threading.Event(), retry_policy=FAST_HTTP)

"""Test helpers for whole runs: a small project on disk, a webhook receiver, a leak guard."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

# Four intents with their own vocabulary: a model separates them easily, so the metrics
# are high and stable, and the gate's thresholds decide the outcome.
_CORES: dict[str, list[str]] = {
    "check_balance": [
        "what is my account balance",
        "how much money is left in my account",
        "show me the balance of my savings",
        "tell me my current balance",
    ],
    "transfer_money": [
        "send fifty euros to my sister",
        "transfer money to another account",
        "wire funds to my landlord",
        "move cash from checking to savings",
    ],
    "card_lost": [
        "i lost my credit card",
        "my debit card was stolen",
        "block my card because it is missing",
        "someone took my bank card",
    ],
    "opening_hours": [
        "when does the branch open",
        "what are your opening hours on saturday",
        "is the office open on sunday",
        "what time do you close today",
    ],
}
_TRAIN_FRAMES = ["{}", "please {}", "hi, {}", "can you {} for me", "i need help: {}"]
_HOLDOUT_FRAMES = ["hello there, {}", "quick question, {}", "{} thanks"]
WEBHOOK_SECRET = "whsec-test-0123456789abcdef"


def training_data() -> dict[str, list[str]]:
    return {
        intent: [f.format(c) for f in _TRAIN_FRAMES for c in cores]
        for intent, cores in _CORES.items()
    }


def noisy_training_data() -> dict[str, list[str]]:
    """Half of check_balance's examples labelled transfer_money: a real, lower F1.

    Checkerboard over (frame, core) so every sentence core carries both labels and no
    model can learn the relabelling away.
    """
    data = training_data()
    balance = data["check_balance"]
    cores = len(_CORES["check_balance"])
    moved = [t for i, t in enumerate(balance) if (i // cores + i % cores) % 2 == 0]
    kept = [t for i, t in enumerate(balance) if (i // cores + i % cores) % 2 == 1]
    data["check_balance"] = kept
    data["transfer_money"] = data["transfer_money"] + moved
    return data


def holdout_data() -> dict[str, list[str]]:
    return {
        intent: [f.format(c) for f in _HOLDOUT_FRAMES for c in cores]
        for intent, cores in _CORES.items()
    }


def base_config(model_id: str = "model-test") -> dict[str, Any]:
    return {
        "version": 1,
        "model": {"id": model_id},
        "datasets": [{"id": "ds-main", "path": "data/train.yaml"}],
        "holdout": {"path": "data/holdout.yaml"},
        "training": {
            "poll_interval_floor_seconds": 0.1,
            "timeout_minutes": 1,
            "hyperparameters": {"epochs": 10, "seed": 7},
        },
        "gate": {"min_f1": 0.5, "min_precision": 0.5, "champion": {"bootstrap_samples": 200}},
        "audit": {"path": "audit.log"},
    }


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `patch` into a copy of `base`; a None value deletes the key."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_project(
    root: Path,
    patch: dict[str, Any] | None = None,
    *,
    train: dict[str, list[str]] | None = None,
    holdout: dict[str, list[str]] | None = None,
) -> Path:
    """A config and its datasets under `root`; returns the config path."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "train.yaml").write_text(yaml.safe_dump(train or training_data()), encoding="utf-8")
    (data / "holdout.yaml").write_text(yaml.safe_dump(holdout or holdout_data()), encoding="utf-8")
    config = merge(base_config(), patch or {})
    path = root / "training-config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records every POST and answers `statuses`."""

    statuses: list[int] = field(default_factory=list)  # per request; 200 when exhausted
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(Received(self.path, dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/ci-trainer?token=query-secret-123"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class LeakGuard:
    """Collects every secret a test used and every text that left the process."""

    secrets: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    files: list[Path] = field(default_factory=list)

    def secret(self, *values: str | None) -> None:
        self.secrets.update(v for v in values if v)

    def text(self, where: str, value: str | bytes) -> None:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        # `::add-mask::VALUE` is how a secret is registered with the Actions runner,
        # which hides it everywhere after; it is the one place a secret must appear.
        kept = [line for line in text.splitlines() if not line.startswith("::add-mask::")]
        self.texts.append((where, "\n".join(kept)))

    def file(self, path: Path | str | None) -> None:
        if path is not None:
            self.files.append(Path(path))

    def leaks(self) -> list[str]:
        found: list[str] = []
        sources = list(self.texts)
        for path in self.files:
            if path.exists():
                sources.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
        for where, text in sources:
            for secret in self.secrets:
                if secret in text:
                    found.append(f"a secret ({secret[:3]}...) appears in {where}")
        return found

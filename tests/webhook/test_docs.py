"""docs/webhook.md: its receiver example really verifies what deliver() sends."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ci_trainer import webhook
from ci_trainer.decision import Decision

from .conftest import Receiver, make_result

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhook.md"
SECRET = "whsec-docs-example"


def _doc_namespace() -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    return namespace


def test_documented_receiver_accepts_a_real_delivery_once(receiver: Receiver) -> None:
    delivery = webhook.deliver(make_result(), receiver.url, SECRET, timeout=5.0)
    assert delivery.delivered
    [got] = receiver.received
    doc = _doc_namespace()
    assert doc["is_authentic"](got.body, got.headers["X-CI-Trainer-Signature"], SECRET)
    assert doc["handle"](got.body, got.headers, SECRET) == 200
    assert got.headers["X-CI-Trainer-Delivery"] in doc["processed"]
    assert not doc["is_authentic"](got.body + b"\n", got.headers["X-CI-Trainer-Signature"], SECRET)
    assert doc["handle"](got.body, got.headers, "wrong-secret") == 401


def test_documented_event_names_match_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for decision in Decision:
        row = next(line for line in text.splitlines() if f"`{decision.value}`" in line)
        assert f"`{webhook.EVENT_NAMES[decision]}`" in row, decision


def test_documented_event_example_has_the_fields_build_event_sends() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = json.loads(re.findall(r"```json\n(.*?)```", text, re.DOTALL)[0])
    assert set(example) == set(webhook.build_event(make_result(), "e"))


def test_documented_metrics_and_target_fields_match_the_code() -> None:
    from ci_trainer.backend_types import EvalMetrics, TargetScore

    example, target = (
        json.loads(block)
        for block in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    )
    member = TargetScore(id="f/l", label="Flow/locale", sets_combined=["f1"])
    metrics = EvalMetrics(version_id="v", targets=[member, member])
    sent = webhook.build_event(make_result(metrics=metrics), "e")["metrics"]
    assert set(example["metrics"]) == set(sent)
    assert set(target) == set(sent["targets"][0])

"""Each flow x locale's own figures, from a v2 run over real HTTP to the summary, audit
record and webhook: a combined target's metrics are the lowest member's, so the reviewer
needs the members' figures to see which flow/locale is weak and by how much."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm
import jsonschema
import pytest
import yaml
from cmarkgfm.cmark import Options
from jsonschema import Draft202012Validator

from ci_trainer import audit
from ci_trainer.backend_types import EvalMetrics
from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.decision import Decision
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.report import render_summary
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings
from ci_trainer.webhook import build_event

FAST_HTTP = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
API_KEY = "v2-targets-api-key-0c4f2e"
SHOP_FLOW = "64a1f0c2e4b0a1b2c3d4e601"  # examples/cognigy-v2: Shop, in en-US and de-DE
EN, DE = "64a1f0c2e4b0a1b2c3d4e701", "64a1f0c2e4b0a1b2c3d4e702"
HOSTILE_FLOW = "Shop | <script>alert(1)</script>"
HOSTILE_LOCALES = {EN: "en-US `code`", DE: "de-DE ``` | x"}


def write_project(root: Path, repo_root: Path, *, locales: tuple[str, ...]) -> Path:
    """The sample v2 project with the Shop flow alone, one target per locale: en-US on
    the full intents file, de-DE on a smaller one (ten sentences an intent)."""
    project = root / "cognigy-v2"
    shutil.copytree(repo_root / "examples/cognigy-v2", project)
    shop = json.loads((project / "intents/shop.json").read_text(encoding="utf-8"))
    for intent in shop:
        intent["exampleSentences"] = intent["exampleSentences"][:10]
    (project / "intents/shop-de.json").write_text(json.dumps(shop), encoding="utf-8")
    config = project / "training-config.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["datasets"] = [
        {"id": "shop-en", "path": "intents/shop.json"},
        {"id": "shop-de", "path": "intents/shop-de.json"},
    ]
    dataset_of = {EN: "shop-en", DE: "shop-de"}
    data["cognigy_v2"]["targets"] = [
        {"flow_id": SHOP_FLOW, "locales": [locale], "dataset": dataset_of[locale]}
        for locale in locales
    ]
    data["training"]["poll_interval_floor_seconds"] = 0.1
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


def emulator(config: Path, names: dict[str, str], flow_name: str = "Shop") -> V2Emulator:
    """The v2 emulator for `config`, its flow and locales named as a tenant names them."""
    emu = V2Emulator.from_config(config, api_key=API_KEY, epochs=10)
    project_id = yaml.safe_load(config.read_text(encoding="utf-8"))["cognigy_v2"]["project_id"]
    content = emu.service.projects[project_id].content
    content.flows[SHOP_FLOW].name = flow_name
    for locale_id, name in names.items():
        content.locales[locale_id].name = name
    return emu


def run_v2(config: Path, emu: V2Emulator) -> RunResult:
    settings = Settings.from_env(
        {"COGNIGY_API_KEY": API_KEY, "COGNIGY_BASE_URL": emu.base_url},
        config_path=config,
        mode=Mode.TRAIN,
    )
    return execute(settings, ConsoleReporter(), stop=threading.Event(), retry_policy=FAST_HTTP)


@pytest.fixture
def two_targets(tmp_path: Path, repo_root: Path) -> Iterator[RunResult]:
    config = write_project(tmp_path, repo_root, locales=(EN, DE))
    with emulator(config, {EN: "en-US", DE: "de-DE"}) as emu:
        yield run_v2(config, emu)


class Page(HTMLParser):
    """The rendered summary's tags, text and, per table, its rows' cell texts."""

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(
            cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, first_header: str, second_header: str) -> list[list[str]]:
        """The table whose header row starts with these two cells."""
        return next(t for t in self.tables if t[0][:2] == [first_header, second_header])


def test_a_two_target_run_keeps_each_targets_metrics_and_the_minimum(
    two_targets: RunResult,
) -> None:
    result = two_targets
    metrics = result.metrics
    assert metrics is not None, (result.reason, result.error)
    by_label = {score.label: score for score in metrics.targets}
    assert list(by_label) == ["Shop/en-US", "Shop/de-DE"]
    assert [score.id for score in metrics.targets] == [f"{SHOP_FLOW}/{EN}", f"{SHOP_FLOW}/{DE}"]
    en, de = by_label["Shop/en-US"], by_label["Shop/de-DE"]
    assert en.f1 is not None and de.f1 is not None
    assert metrics.f1 == min(en.f1, de.f1)
    assert metrics.macro_f1 == min(s.macro_f1 for s in metrics.targets if s.macro_f1 is not None)
    # de-DE, trained on a quarter of the sentences, is the weak one: it alone sets the
    # combined F1, and the gate (min_f1 0.75) rejects the run on its figure.
    assert de.f1 < 0.75 <= en.f1
    assert "f1" in de.sets_combined and "f1" not in en.sets_combined
    assert result.decision is Decision.REJECTED
    assert result.reason == f"F1 {de.f1:.3f} < 0.750"
    assert all(score.intent_count == 13 for score in metrics.targets)
    # The combined target's per-intent scores are each member's, named by it.
    assert {s.intent.split(": ")[0] for s in metrics.per_intent} == set(by_label)


def test_the_summary_has_a_targets_table_with_each_label_and_f1(two_targets: RunResult) -> None:
    metrics = two_targets.metrics
    assert metrics is not None
    markdown = render_summary(two_targets)
    assert "### Targets" in markdown
    page = Page(markdown)
    rows = page.table("Target", "F1")
    assert rows[0] == ["Target", "F1", "Accuracy", "Macro F1", "Intents", "Sets combined"]
    shown = {row[0]: row for row in rows[1:]}
    assert set(shown) == {"Shop/en-US", "Shop/de-DE"}
    for score in metrics.targets:
        row = shown[score.label]
        assert row[1] == f"{score.f1:.3f}"
        assert row[4] == "13"
        assert ("F1" in row[5]) is ("f1" in score.sets_combined)
    # The Metrics table's F1 is the lowest target's, the figure the gate judged.
    assert page.table("Metric", "Candidate")[1][:2] == ["F1", f"{metrics.f1:.3f}"]


def test_the_audit_record_and_webhook_event_carry_the_targets(two_targets: RunResult) -> None:
    assert two_targets.audit_log is not None, two_targets.audit_error
    lines = Path(two_targets.audit_log).read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    jsonschema.validate(
        record, audit.load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    assert audit.verify_file(Path(two_targets.audit_log)).ok
    labels = [target["label"] for target in record["metrics"]["targets"]]
    assert labels == ["Shop/en-US", "Shop/de-DE"]
    assert set(record["metrics"]["targets"][0]) == {
        "id", "label", "f1", "accuracy", "macroF1", "intentCount", "setsCombined",
    }  # fmt: skip
    event = build_event(two_targets, "e")
    assert [t["f1"] for t in event["metrics"]["targets"]] == [
        t["f1"] for t in record["metrics"]["targets"]
    ]


def test_labels_from_the_tenant_cannot_break_the_targets_table(
    tmp_path: Path, repo_root: Path
) -> None:
    config = write_project(tmp_path, repo_root, locales=(EN, DE))
    with emulator(config, HOSTILE_LOCALES, flow_name=HOSTILE_FLOW) as emu:
        result = run_v2(config, emu)
    assert result.metrics is not None and len(result.metrics.targets) == 2
    page = Page(render_summary(result))
    assert "script" not in page.tags
    rows = page.table("Target", "F1")
    assert {len(row) for row in rows} == {6}  # no label added or swallowed a column
    assert [row[0] for row in rows[1:]] == [
        f"{HOSTILE_FLOW}/{HOSTILE_LOCALES[EN]}",
        f"{HOSTILE_FLOW}/{HOSTILE_LOCALES[DE]}",
    ]  # shown literally
    assert all(row[1] != "n/a" for row in rows[1:])


def test_a_single_target_run_has_no_targets_table(tmp_path: Path, repo_root: Path) -> None:
    config = write_project(tmp_path, repo_root, locales=(EN,))
    with emulator(config, {EN: "en-US"}) as emu:
        result = run_v2(config, emu)
    assert result.decision is Decision.APPROVED, (result.reason, result.error)
    assert result.metrics is not None and result.metrics.targets == []
    assert "### Targets" not in render_summary(result)


def test_a_v1_run_has_no_targets_table(tmp_path: Path, repo_root: Path) -> None:
    config = repo_root / "training-config.yaml"  # read only: the audit log goes to tmp_path
    with Emulator.from_config(config, time_scale=0.0) as emu:
        settings = Settings.from_env(
            {
                "COGNIGY_BASE_URL": emu.base_url,
                "COGNIGY_CLIENT_ID": emu.client_id,
                "COGNIGY_CLIENT_SECRET": emu.client_secret,
            },
            config_path=config,
            mode=Mode.TRAIN,
            audit_log=tmp_path / "audit.log",
            output_dir=tmp_path,
        )
        result = execute(settings, ConsoleReporter(), stop=threading.Event())
    assert result.backend == "cognigy-v1"
    assert result.metrics is not None and result.metrics.targets == []
    assert "### Targets" not in render_summary(result)


def _with_production(result: RunResult, f1: dict[str, float]) -> RunResult:
    """`result` as if the service had reported production's figures per target."""
    assert result.metrics is not None and result.production is not None
    members = [
        score.model_copy(update={"f1": f1[score.label]})
        for score in result.metrics.targets
        if score.label in f1
    ]
    production: dict[str, Any] = {
        "metrics": EvalMetrics(version_id="prod", f1=min(f1.values()), targets=members)
    }
    return result.model_copy(update={"production": result.production.model_copy(update=production)})


def test_production_f1_per_target_is_a_column_only_when_known(two_targets: RunResult) -> None:
    # cognigy-v2 has no per-target production figures (production is a snapshot), so
    # the column is absent above; a service that gives them gets it, n/a where missing.
    result = _with_production(two_targets, {"Shop/en-US": 0.875})
    rows = Page(render_summary(result)).table("Target", "F1")
    assert rows[0][4] == "Production F1"
    assert [row[4] for row in rows[1:]] == ["0.875", "n/a"]

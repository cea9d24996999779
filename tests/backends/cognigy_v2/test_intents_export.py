"""No intents lost (C9, C10) and no needless training (C12), on the sample config against
the v2 emulator: every overwrite import follows the export of its flow x locale, the
export is kept as a file (in the outputs and the audit record), the dataset gate shows
what the import adds, changes and deletes, and a flow x locale whose training is current
on the committed file is not trained again."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ci_trainer import audit
from ci_trainer.backends.cognigy_v2.emulator.exports import export_items
from ci_trainer.backends.cognigy_v2.emulator.model import Intent, new_id
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.decision import Decision
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.progress import ConsoleReporter
from ci_trainer.report import build_outputs, render_summary
from ci_trainer.result import CheckStatus, Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

FAST_HTTP = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
API_KEY = "v2-emulator-api-key-7c2a90"
SHOP = "64a1f0c2e4b0a1b2c3d4e601"
TALK = "64a1f0c2e4b0a1b2c3d4e602"
EN = "64a1f0c2e4b0a1b2c3d4e701"
DE = "64a1f0c2e4b0a1b2c3d4e702"
TARGETS = [(SHOP, EN), (SHOP, DE), (TALK, EN)]


@pytest.fixture
def project(tmp_path: Path, repo_root: Path) -> Path:
    """The sample v2 project, copied, with a fast poll floor."""
    target = tmp_path / "cognigy-v2"
    shutil.copytree(repo_root / "examples/cognigy-v2", target)
    return configure(target / "training-config.yaml")


def configure(config: Path, **validation: object) -> Path:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["training"]["poll_interval_floor_seconds"] = 0.1
    data["validation"].update(validation)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


@pytest.fixture
def emu(project: Path) -> Iterator[V2Emulator]:
    emulator = V2Emulator.from_config(project, api_key=API_KEY, epochs=10)
    emulator.start()
    yield emulator
    emulator.stop()


def run(config: Path, emu: V2Emulator, mode: Mode = Mode.TRAIN) -> RunResult:
    settings = Settings.from_env(
        {"COGNIGY_API_KEY": API_KEY, "COGNIGY_BASE_URL": emu.base_url},
        config_path=config,
        mode=mode,
    )
    return execute(settings, ConsoleReporter(), stop=threading.Event(), retry_policy=FAST_HTTP)


def tenant_export(emu: V2Emulator, flow_id: str, locale_id: str) -> list[dict[str, object]]:
    """What the emulator's flow holds in the locale, as its export answers it."""
    with emu.service.lock:
        _, flow, locale = emu.service.flow_locale(flow_id, locale_id)
        return export_items(flow, locale.reference_id)


def add_tenant_intent(emu: V2Emulator, flow_id: str, locale_id: str, name: str) -> None:
    """An intent someone made on the tenant, not in git: an overwrite import deletes it."""
    with emu.service.lock:
        _, flow, locale = emu.service.flow_locale(flow_id, locale_id)
        sentences = {locale.reference_id: ["open the legacy menu", "legacy menu please"]}
        flow.intents[name] = Intent(id=new_id(), name=name, sentences=sentences)


def operations(emu: V2Emulator) -> list[tuple[str, str]]:
    """(method, path) of every call the emulator answered, in order."""
    return [(r.method, r.path) for r in emu.app.log]


def test_every_overwrite_import_follows_the_export_kept_as_a_file(
    project: Path, emu: V2Emulator
) -> None:
    add_tenant_intent(emu, SHOP, EN, "legacy_menu")
    before = {(flow, locale): tenant_export(emu, flow, locale) for flow, locale in TARGETS}

    result = run(project, emu)

    assert result.decision is Decision.APPROVED, (result.reason, result.error)
    calls = operations(emu)
    exports = [i for i, (m, p) in enumerate(calls) if m == "POST" and p.endswith("/export")]
    imports = [i for i, (m, p) in enumerate(calls) if m == "POST" and p.endswith("/import")]
    assert len(exports) == 3 and len(imports) == 3
    for flow in (SHOP, TALK):
        flow_exports = [i for i in exports if f"/flows/{flow}/" in calls[i][1]]
        flow_imports = [i for i in imports if f"/flows/{flow}/" in calls[i][1]]
        assert max(flow_exports) < min(flow_imports)  # each locale exported before any import
    # Each artifact holds what its flow x locale held before the run, and restores it.
    kept = {e.target: e for e in result.service_exports}
    assert len(kept) == 3
    for (flow, locale), items in before.items():
        path = project.parent / f"cognigy-export-{flow}-{locale}.json"
        assert json.loads(path.read_text(encoding="utf-8")) == items
        assert str(path) in {e.path for e in kept.values()}
    assert "legacy_menu" in {i["name"] for i in before[(SHOP, EN)]}
    assert "legacy_menu" not in {i["name"] for i in tenant_export(emu, SHOP, EN)}


def test_the_export_paths_are_in_the_outputs_and_the_audit_record(
    project: Path, emu: V2Emulator
) -> None:
    result = run(project, emu)

    expected = [str(project.parent / f"cognigy-export-{f}-{loc}.json") for f, loc in TARGETS]
    assert sorted(build_outputs(result)["intents-export"].splitlines()) == sorted(expected)
    assert result.audit_log is not None
    record = json.loads(Path(result.audit_log).read_text(encoding="utf-8").splitlines()[-1])
    assert audit.schema_problem(record) is None
    assert sorted(e["path"] for e in record["intentsExports"]) == sorted(expected)
    assert all(len(e["sha256"]) == 64 for e in record["intentsExports"])


def test_the_gate_names_what_the_import_adds_changes_and_deletes(
    project: Path, emu: V2Emulator
) -> None:
    add_tenant_intent(emu, SHOP, EN, "legacy_menu")
    shop = project.parent / "intents/shop.json"
    intents = json.loads(shop.read_text(encoding="utf-8"))
    intents[0]["exampleSentences"].append("where on earth is my parcel")
    wraps = [f"wrap it as gift number {n}" for n in range(10)]  # no duplicate examples
    intents.append({**intents[1], "name": "gift_wrap", "exampleSentences": wraps})
    shop.write_text(json.dumps(intents), encoding="utf-8")

    result = run(project, emu)

    assert result.decision is Decision.APPROVED, result.reason  # a warning by default
    check = next(
        c for c in result.checks if c.check == "service_mismatch" and c.dataset_id == "shop-intents"
    )
    assert check.status is CheckStatus.WARNING
    details = "\n".join(check.details)
    assert "deletes intent 'legacy_menu'" in details
    assert "adds intent 'gift_wrap'" in details
    assert f"changes intent '{intents[0]['name']}' (+1 sentence" in details
    en = next(e for e in result.service_exports if e.path and f"{SHOP}-{EN}" in e.path)
    assert en.intents_deleted == ["legacy_menu"] and en.intents_added == ["gift_wrap"]
    assert en.intents_changed[0].added == ["where on earth is my parcel"]
    summary = render_summary(result)
    assert "### Service's intents" in summary and "legacy\\_menu" in summary
    warned = [m.text for m in result.messages if m.title == "Dataset check service_mismatch"]
    assert warned and "would add 2, change 2 and delete 1 intents" in warned[0]


def test_a_mismatch_fails_the_gate_when_configured_and_nothing_is_imported(
    project: Path, emu: V2Emulator
) -> None:
    configure(project, fail_on_service_mismatch=True)
    add_tenant_intent(emu, SHOP, DE, "legacy_menu")

    result = run(project, emu)

    assert result.decision is Decision.REJECTED
    assert "service_mismatch" in result.reason
    assert emu.app.calls("/intents/import") == []
    assert (project.parent / f"cognigy-export-{SHOP}-{DE}.json").is_file()


def test_a_failed_export_stops_the_run_before_any_import(project: Path, emu: V2Emulator) -> None:
    emu.app.fail_next("exportIntents", 400)

    result = run(project, emu)

    assert result.decision is Decision.FAILED
    assert "exportIntents" in result.reason
    assert emu.app.calls("/intents/import") == []
    assert emu.app.calls("/intents/train") == []


def test_a_current_training_on_the_committed_file_is_not_repeated(
    project: Path, emu: V2Emulator
) -> None:
    first = run(project, emu)
    assert first.decision is Decision.APPROVED, first.reason
    trained = len(emu.app.calls("/intents/train"))
    imported = len(emu.app.calls("/intents/import"))

    second = run(project, emu)

    assert second.decision is Decision.APPROVED, (second.reason, second.error)
    train_calls = emu.app.calls("/intents/train")[trained:]
    # Shop is current in both locales on shop.json; the CSV says more than sentences
    # (confirmation sentences), which an export cannot prove equal, so it trains.
    assert [r.path for r in train_calls] == [f"/new/v2.0/flows/{TALK}/intents/train"]
    assert len(emu.app.calls("/intents/import")) == imported + 1
    notices = [m.text for m in second.messages if m.level == "notice"]
    assert sum("was not trained" in text for text in notices) == 2
    assert "was not trained" in render_summary(second)
    assert second.metrics is not None and len(second.metrics.targets) == 3


def test_a_changed_file_trains_again(project: Path, emu: V2Emulator) -> None:
    assert run(project, emu).decision is Decision.APPROVED
    shop = project.parent / "intents/shop.json"
    intents = json.loads(shop.read_text(encoding="utf-8"))
    intents[0]["tags"] = ["shop", "orders"]  # a setting, not a sentence
    shop.write_text(json.dumps(intents), encoding="utf-8")
    trained = len(emu.app.calls("/intents/train"))

    result = run(project, emu)

    assert result.decision is Decision.APPROVED, result.reason
    assert len(emu.app.calls("/intents/train")) == trained + 3
    assert not any("was not trained" in m.text for m in result.messages)

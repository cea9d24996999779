"""The intents export at the backend: both answer shapes (the array, or a Task with a
download link), the export an overwrite import requires even without the dataset stage,
and answers that are refused."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from ci_trainer.backend_types import TrainingRequest
from ci_trainer.backends.cognigy_v2.emulator.app import V2Variants
from ci_trainer.backends.cognigy_v2.emulator.exports import export_items
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.intents_compare import file_matches
from ci_trainer.backends.cognigy_v2.options import V2Target
from ci_trainer.errors import ContractError, TrainingFailed

from .conftest import EN, SHOP_FLOW, TALK_FLOW, EmulatorFactory, make_backend

REQUEST = TrainingRequest(dataset_ids=[], validation_split=0.2, hyperparameters={})


def held(emu: V2Emulator, flow_id: str, locale_id: str) -> list[dict[str, object]]:
    with emu.service.lock:
        _, flow, locale = emu.service.flow_locale(flow_id, locale_id)
        return export_items(flow, locale.reference_id)


@pytest.mark.parametrize("shape", ["direct", "task"])
def test_both_answer_shapes_give_the_flows_intents(
    make_emulator: EmulatorFactory, intents_dir: Path, tmp_path: Path, shape: str
) -> None:
    emu = make_emulator(V2Variants(intents_export=shape))
    out = tmp_path / "run"
    backend = make_backend(emu, intents_dir, artifact_dir=out)
    spec = backend.options.targets[0]

    export = backend.exports.export(spec)

    assert list(export.items) == held(emu, SHOP_FLOW, EN)
    assert export.path == out / f"cognigy-export-{SHOP_FLOW}-{EN}.json"
    assert json.loads(export.path.read_text(encoding="utf-8")) == held(emu, SHOP_FLOW, EN)
    downloads = emu.app.calls("/intents/exports/")
    assert len(downloads) == (1 if shape == "task" else 0)
    assert backend.exports.export(spec) is export  # once per run
    assert len([r for r in emu.app.log if r.path.endswith("/intents/export")]) == 1


def test_an_overwrite_import_without_the_dataset_stage_exports_first(
    emu: V2Emulator, intents_dir: Path, tmp_path: Path
) -> None:
    backend = make_backend(emu, intents_dir, artifact_dir=tmp_path)
    backend.start_training(backend.targets()[0], REQUEST, "k")
    log = [(r.method, r.path) for r in emu.app.log if r.method == "POST"]
    kinds = [path.rsplit("/", 1)[-1] for _, path in log if "/intents/" in path]
    # export, import per target, in order, then the trainings
    assert kinds[:6] == ["export", "import"] * 3
    assert len(list(tmp_path.glob("cognigy-export-*.json"))) == 3


def test_a_failed_export_leaves_the_tenant_untouched(emu: V2Emulator, intents_dir: Path) -> None:
    emu.app.fail_next("exportIntents", 400)
    backend = make_backend(emu, intents_dir)
    with pytest.raises(TrainingFailed, match="could not be exported before the overwrite import"):
        backend.start_training(backend.targets()[0], REQUEST, "k")
    assert emu.app.calls("/intents/import") == []


def test_merge_needs_no_export(emu: V2Emulator, intents_dir: Path) -> None:
    backend = make_backend(emu, intents_dir, import_mode="merge")
    backend.start_training(backend.targets()[0], REQUEST, "k")
    assert emu.app.calls("/intents/export") == []
    assert len(emu.app.calls("/intents/import")) == 3


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"items": []}, "expected the exported intents"),
        ([{"exampleSentences": ["hi"]}], "has no name"),
        ([{"name": "a", "exampleSentences": "hi"}], "not a list of strings"),
        ('[{"name": "a", "name": "b"}]', "not strict JSON"),
    ],
)
def test_an_export_of_another_shape_is_refused(
    make_emulator: EmulatorFactory, intents_dir: Path, body: object, words: str
) -> None:
    emu = make_emulator()
    text = body if isinstance(body, str) else json.dumps(body)

    def answer(request: Request, args: dict[str, str]) -> Response:
        return Response(text, status=200, mimetype="application/json")

    emu.app._handlers["exportIntents"] = answer  # a tenant answering otherwise
    backend = make_backend(emu, intents_dir)
    with pytest.raises(ContractError, match=words):
        backend.exports.export(backend.options.targets[0])


def test_a_json_file_matches_only_with_every_field_it_gives(intents_dir: Path) -> None:
    items = [
        {"name": "a", "exampleSentences": ["x", "y"], "tags": ["t"], "isDisabled": False},
        {"name": "b", "exampleSentences": ["z"], "tags": []},
    ]
    path = intents_dir / "f.json"
    path.write_text(json.dumps([{"name": "b", "exampleSentences": ["z"]}, items[0]]), "utf-8")
    assert file_matches(path, items)  # order of intents and absent fields do not matter
    path.write_text(json.dumps([items[1], {**items[0], "tags": ["other"]}]), "utf-8")
    assert not file_matches(path, items)
    path.write_text(json.dumps([items[1], {**items[0], "condition": ""}]), "utf-8")
    assert not file_matches(path, items)  # a field the export does not show
    path.write_text(json.dumps([items[1]]), "utf-8")
    assert not file_matches(path, items)  # the overwrite would delete `a`


def test_a_csv_file_with_more_than_sentences_never_matches(intents_dir: Path) -> None:
    items = [{"name": "greeting", "exampleSentences": ["hello"]}]
    path = intents_dir / "f.csv"
    path.write_text("greeting,exampleSentence,hello\n", encoding="utf-8")
    assert file_matches(path, items)
    path.write_text("greeting,exampleSentence,hello\ngreeting,rules,x\n", encoding="utf-8")
    assert not file_matches(path, items)


def test_the_flows_of_a_run_are_kept_apart(emu: V2Emulator, intents_dir: Path) -> None:
    stop = threading.Event()
    backend = make_backend(
        emu,
        intents_dir,
        stop,
        targets=(V2Target(TALK_FLOW, EN, intents_dir / "smalltalk.csv"),),
    )
    export = backend.exports.export(backend.options.targets[0])
    assert {item["name"] for item in export.items} == {"greeting", "goodbye"}
    assert export.path is None  # no artifact directory: kept in memory only

"""An intent CSV file holds only the property types Cognigy documents for it (issue 18
item 3): the sample does, and a row of another type is refused, naming the row, before
anything is exported or imported (against the v2 emulator over real HTTP)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.intents_csv import PROPERTY_TYPES
from ci_trainer.errors import DatasetError

from .conftest import EN, TALK_FLOW, make_backend
from .test_backend import REQUEST

REPO = Path(__file__).resolve().parents[3]


def test_the_sample_csv_uses_only_documented_property_types() -> None:
    path = REPO / "examples/cognigy-v2/intents/smalltalk.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        kinds = {row[1] for row in csv.reader(handle) if row}
    assert kinds <= set(PROPERTY_TYPES), kinds
    assert "exampleSentence" in kinds


def test_an_undocumented_property_type_is_refused_before_any_request(
    emu: V2Emulator, intents_dir: Path
) -> None:
    talk = intents_dir / "smalltalk.csv"
    talk.write_text(
        "greeting,description,The user opens the conversation\n" + talk.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    backend = make_backend(emu, intents_dir, import_mode="overwrite")
    backend.check_access()
    [spec] = [t for t in backend.options.targets if t.flow_id == TALK_FLOW and t.locale_id == EN]
    target = next(t for t in backend.target_list() if t.id == spec.id)
    with pytest.raises(DatasetError) as raised:
        backend.start_training(target, REQUEST, "csv-1")
    [issue] = raised.value.issues
    assert (issue.file, issue.line) == ("smalltalk.csv", 1)
    assert "'description' is not one Cognigy documents" in issue.message
    assert emu.app.calls("/intents/import") == []
    assert emu.app.calls("/intents/export") == []

"""The property types Cognigy documents for an intent CSV file (docs.cognigy.com, "Intents"
-> "Download and Upload Intents"; contract section 4.3): `exampleSentence`, `defaultReply`,
`confirmationSentence` and `rules`. A row of any other type (a `description`, say) is not
something the upload is documented to take: what a tenant does with it is unknown, so the
file is refused before anything is exported or imported, naming the row."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ci_trainer.errors import DatasetError, DatasetIssue

PROPERTY_TYPES = ("exampleSentence", "defaultReply", "confirmationSentence", "rules")
_SHOWN = 20  # rows named at most


def check_property_types(path: Path, content: bytes) -> None:
    """Refuse a CSV intents file with a row of an undocumented property type."""
    text = content.decode("utf-8-sig", errors="replace")
    if path.suffix.lower() != ".csv" or text.lstrip()[:1] in ("[", "{"):
        return  # the JSON export: its fields are the API's own
    issues = []
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            kind = row[1].strip() if len(row) > 1 else None
            if kind is not None and kind not in PROPERTY_TYPES:
                issues.append(
                    DatasetIssue(
                        path.name,
                        reader.line_num,
                        f"property type {kind[:40]!r} is not one Cognigy documents for intent "
                        f"CSV files ({', '.join(PROPERTY_TYPES)})",
                        "remove the row, or use the JSON export, which carries every field",
                    )
                )
    except csv.Error:
        return  # the dataset reader has already said what is wrong with the file
    if issues:
        raise DatasetError(issues[:_SHOWN])

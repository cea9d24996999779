"""Reading a dataset file: size and encoding checks, format detection, one reader per format."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ci_trainer.datasets.cognigy_json import parse_cognigy_json
from ci_trainer.datasets.csv_formats import parse_cognigy_csv, parse_text_category_csv
from ci_trainer.datasets.model import Dataset
from ci_trainer.datasets.yaml_reader import parse_yaml
from ci_trainer.errors import DatasetError, DatasetIssue

MAX_DATASET_BYTES = 64 * 1024 * 1024


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset file; the format is detected from its content."""
    file = Path(path)
    name = str(path)
    try:
        size = file.stat().st_size
        if size > MAX_DATASET_BYTES:
            raise DatasetError(
                [
                    DatasetIssue(
                        name, None, f"file is {size} bytes, over the {MAX_DATASET_BYTES} byte limit"
                    )
                ]
            )
        raw = file.read_bytes()
    except DatasetError:
        raise
    except OSError as exc:
        raise DatasetError(
            [
                DatasetIssue(
                    name,
                    None,
                    f"cannot read the file: {exc.strerror or exc}",
                    "check the path in the config; it is relative to the config file",
                )
            ]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(
            [DatasetIssue(name, line, "the file is not UTF-8", "save it as UTF-8")]
        ) from None
    return parse_dataset(text, name, sha256=hashlib.sha256(raw).hexdigest())


def parse_dataset(text: str, name: str, *, sha256: str | None = None) -> Dataset:
    digest = sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    fmt = detect_format(text, name)
    if fmt == "yaml":
        examples = parse_yaml(text, name)
    elif fmt == "text-category-csv":
        examples = parse_text_category_csv(text, name)
    elif fmt == "cognigy-json":
        examples = parse_cognigy_json(text, name)
    else:
        examples = parse_cognigy_csv(text, name)
    if not examples:
        raise DatasetError(
            [
                DatasetIssue(
                    name,
                    None,
                    "the file holds no examples",
                    "add at least one intent with example sentences",
                )
            ]
        )
    return Dataset(path=name, format=fmt, sha256=digest, examples=tuple(examples))


def detect_format(text: str, name: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if name.lower().endswith((".yaml", ".yml")):
        return "yaml"
    if name.lower().endswith(".json") or first.lstrip().startswith("["):
        return "cognigy-json"
    if first.replace(" ", "").lower() in ("text,category", "text,intent"):
        return "text-category-csv"
    if name.lower().endswith(".csv"):
        return "cognigy-csv"
    # Unknown extension: a CSV row has commas before any colon; YAML keys end with a colon.
    return "cognigy-csv" if "," in first.split(":", 1)[0] else "yaml"

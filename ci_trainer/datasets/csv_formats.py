"""The two CSV formats: Cognigy's intent export, and `text,category` corpora."""

from __future__ import annotations

import csv
import io

from ci_trainer.datasets.model import Example
from ci_trainer.errors import DatasetError, DatasetIssue


def parse_cognigy_csv(text: str, name: str) -> list[Example]:
    issues: list[DatasetIssue] = []
    examples: list[Example] = []
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            line = reader.line_num
            if not "".join(row).strip():
                continue
            if len(row) < 3:
                issues.append(
                    DatasetIssue(
                        name,
                        line,
                        f"expected 3 columns (intent, property type, value), found {len(row)}",
                        "Cognigy's intent CSV export has no header and three columns",
                    )
                )
                continue
            intent, kind, value = row[0].strip(), row[1].strip(), ",".join(row[2:]).strip()
            if kind != "exampleSentence":
                continue
            if not intent or not value:
                issues.append(DatasetIssue(name, line, "empty intent name or example sentence"))
                continue
            examples.append(Example(text=value, intent=intent, line=line))
    except csv.Error as exc:
        issues.append(DatasetIssue(name, reader.line_num, f"not valid CSV: {exc}"))
    if issues:
        raise DatasetError(issues[:50])
    return examples


def parse_text_category_csv(text: str, name: str) -> list[Example]:
    issues: list[DatasetIssue] = []
    examples: list[Example] = []
    reader = csv.reader(io.StringIO(text))
    try:
        next(reader, None)
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                issues.append(
                    DatasetIssue(name, line, "expected two non-empty columns: text,category")
                )
                continue
            examples.append(Example(text=row[0].strip(), intent=row[1].strip(), line=line))
    except csv.Error as exc:
        issues.append(DatasetIssue(name, reader.line_num, f"not valid CSV: {exc}"))
    if issues:
        raise DatasetError(issues[:50])
    return examples

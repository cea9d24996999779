"""Dataset files: read the committed intent data in the formats we support.

Formats, chosen by content (not by name alone, since teams rename files):
- `yaml`: a mapping intent -> list of examples; an example is a string, or
  `{text: ..., score: 0.0..1.0}` where `score` is the annotation confidence.
- `cognigy-csv`: Cognigy's intent export, no header; columns intent name, property type,
  value; rows whose type is `exampleSentence` are examples, other rows are ignored.
- `text-category-csv`: a header `text,category` (common public intent corpora).
- `cognigy-json`: Cognigy's intent JSON export, a top-level array of intents, each with
  `name` and `exampleSentences` (plain strings); disabled intents (`isDisabled: true`)
  are left out, since the service does not train them.

Every problem is reported with file and line; nothing here raises anything but
`DatasetError`.
"""

from ci_trainer.datasets.loading import (
    MAX_DATASET_BYTES,
    detect_format,
    load_dataset,
    parse_dataset,
)
from ci_trainer.datasets.model import Dataset, Example, normalise_text

__all__ = [
    "MAX_DATASET_BYTES",
    "Dataset",
    "Example",
    "detect_format",
    "load_dataset",
    "normalise_text",
    "parse_dataset",
]

"""Property tests: whatever the input, the config loader raises only ConfigError and the
dataset parser only DatasetError.

A few hundred examples per test in the normal suite; set CI_TRAINER_FUZZ_EXAMPLES (e.g.
10000) for a dedicated run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_trainer.config import load_config, parse_config
from ci_trainer.config.model import TrainingConfig
from ci_trainer.datasets import parse_dataset
from ci_trainer.errors import ConfigError, DatasetError

EXAMPLES = int(os.environ.get("CI_TRAINER_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID = """\
version: 1
model:
  id: m
datasets:
  - id: ds
    path: data/intents.yaml
gate:
  min_f1: 0.8
  per_intent: {min_f1: 0.5}
training:
  hyperparameters: {epochs: 20}
"""

# Pieces of YAML syntax, so random text often parses and reaches the later stages.
FRAGMENTS = [
    "version: 1", "version:", "model:", "id: m", "datasets:", "- id: ds", "path: ",
    "gate:", "min_f1: ", "0.5", "1e400", "-1", "~", "null", "yes", "2024-02-30",
    "&a ", "*a", "<<: ", "<<: *a", "!!python/object:os.system", "!!binary aGk=", "!x ",
    "[", "]", "{", "}", ", ", ": ", "? ", "- ", "|", ">", "'", '"', "#", "---", "...",
    "%YAML 1.1", "\n", "\n  ", "\n    ", "\t", "../../x", "/etc/passwd", "secret: s",
    "client_secret: x", "token:", "9" * 5000, "\x00", "\ufeff", "\u2028",
]  # fmt: skip

FIELD_NAMES = sorted(
    {"version", "model", "datasets", "id", "path", "holdout", "gate", "min_f1", "per_intent",
     "training", "hyperparameters", "epochs", "secret", "password", "<<", "audit"}
)  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)


def nested(max_leaves: int) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(
                st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=5
            ),
        ),
        max_leaves=max_leaves,
    )


structures = nested(15)


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "data").mkdir()
    (root / "data" / "intents.yaml").write_text("a:\n  - b\n", encoding="utf-8")
    return root


def assert_only_config_errors(text: str, root: Path | None = None) -> None:
    try:
        if root is None:
            parse_config(text, "fuzz.yaml")
        else:
            parse_config(text, "fuzz.yaml", base_dir=root, workspace=root)
    except ConfigError as exc:
        assert exc.issues
        assert str(exc)  # renders without raising
        for issue in exc.issues:
            assert isinstance(issue.message, str) and issue.message
            assert issue.line is None or issue.line >= 1


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    assert_only_config_errors(text)


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_random_yaml_fragments(parts: list[str]) -> None:
    assert_only_config_errors(" ".join(parts))


@FUZZ
@given(structures)
def test_random_structures(data: Any) -> None:
    assert_only_config_errors(yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(sorted(TrainingConfig.model_fields)), nested(6), max_size=4
    ).map(lambda extra: {"version": 1, "model": {"id": "m"}, "datasets": [{"id": "d"}], **extra})
)
def test_structures_shaped_like_a_config(data: dict[str, Any]) -> None:
    assert_only_config_errors(yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(st.integers(0, len(VALID)), st.integers(0, 30), st.text(max_size=30))
def test_mutated_valid_config(files_root: Path, start: int, length: int, insert: str) -> None:
    text = VALID[:start] + insert + VALID[start + length :]
    assert_only_config_errors(text, files_root)


DATASET_FRAGMENTS = [
    "greet:", "- hello", "- {text: hi, score: 0.9}", "- {text: x, score: nan}", "score: 2",
    "text,category", "hello,greet", "intent,exampleSentence,hi", '"', '""', ",", "\n", "\n  ",
    "&a [*a]", "*a", "[", "{", "!!binary aGk=", "\x00", "\r", "a" * 200, "-", ": ", "? ",
]  # fmt: skip


@FUZZ
@given(
    st.one_of(st.text(max_size=300), st.lists(st.sampled_from(DATASET_FRAGMENTS)).map("".join)),
    st.sampled_from(["d.yaml", "d.csv", "d.txt", "d"]),
)
def test_dataset_parser_raises_only_dataset_errors(text: str, name: str) -> None:
    try:
        dataset = parse_dataset(text, name)
    except DatasetError as exc:
        assert exc.issues
        assert str(exc)
    else:
        assert dataset.examples
        assert all(example.text.strip() and example.intent for example in dataset.examples)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_random_bytes_through_load_config(files_root: Path, raw: bytes) -> None:
    """The whole entry point, file reading and decoding included."""
    path = files_root / "training-config.yaml"
    path.write_bytes(raw)
    try:
        load_config(path, workspace=files_root)
    except ConfigError as exc:
        assert exc.issues and str(exc)

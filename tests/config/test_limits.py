"""YAML bombs and oversized input are refused early, in bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from ci_trainer.config import MAX_CONFIG_BYTES, load_config
from ci_trainer.config.yamltree import MAX_DEPTH, MAX_NODES
from ci_trainer.errors import ConfigError, ConfigIssue

from .conftest import ConfigWriter

PEAK_BYTES = 32 * 1024 * 1024


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        refs = ",".join(f"*a{level - 1}" for _ in range(10))
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def load_traced(path: Path) -> tuple[ConfigIssue, int]:
    """The single issue load_config reports, and the peak memory it took."""
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (issue,) = caught.value.issues
    return issue, peak


def test_billion_laughs_is_refused_at_the_alias(write_config: ConfigWriter) -> None:
    issue, peak = load_traced(write_config(billion_laughs()))
    assert issue.message == (
        f"the document holds more than {MAX_NODES} values (an alias counts as everything it "
        "stands for)"
    )
    assert issue.hint == "this looks like an alias bomb; write the values out or use fewer aliases"
    assert issue.line == 5  # a4 is the first level to pass 20,000 expanded values
    assert peak < PEAK_BYTES


def test_merge_key_bomb_is_refused(write_config: ConfigWriter) -> None:
    lines = ["k0: &k0 {" + ", ".join(f"x{i}: {i}" for i in range(10)) + "}"]
    for level in range(1, 8):
        merges = ", ".join(f"*k{level - 1}" for _ in range(10))
        lines.append(f"k{level}: &k{level} {{<<: [{merges}], y{level}: 1, z: [{merges}]}}")
    issue, peak = load_traced(write_config("\n".join(lines) + "\n"))
    assert issue.message.startswith(f"the document holds more than {MAX_NODES} values")
    assert peak < PEAK_BYTES


def test_recursive_alias_is_refused(write_config: ConfigWriter) -> None:
    issue, _ = load_traced(write_config("version: 1\nloop: &x [1, *x]\n"))
    assert (issue.line, issue.column) == (2, 14)
    assert issue.message == "the alias *x refers to a node that contains it"


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("{a: ", "}")])
def test_ten_thousand_levels_of_nesting_are_refused(
    write_config: ConfigWriter, opener: str, closer: str
) -> None:
    depth = 10_000
    issue, peak = load_traced(write_config("x: " + opener * depth + "1" + closer * depth + "\n"))
    assert issue.message == f"nested more than {MAX_DEPTH} levels deep"
    assert issue.line == 1
    assert peak < PEAK_BYTES


def test_deep_block_nesting_is_refused(write_config: ConfigWriter) -> None:
    text = "".join(f"{'  ' * level}k{level}:\n" for level in range(200)) + "  " * 200 + "v: 1\n"
    issue, _ = load_traced(write_config(text))
    assert issue.message == f"nested more than {MAX_DEPTH} levels deep"
    assert issue.line == MAX_DEPTH + 1


def test_file_over_the_size_limit_is_refused_before_reading(workspace: Path) -> None:
    path = workspace / "training-config.yaml"
    with path.open("w", encoding="utf-8") as out:
        out.write("version: 1\ncomment: '")
        out.write("x" * (MAX_CONFIG_BYTES + 10))
        out.write("'\n")
    issue, peak = load_traced(path)
    size = path.stat().st_size
    assert issue.message == (
        f"the file is {size} bytes; a config may be at most {MAX_CONFIG_BYTES} bytes"
    )
    assert issue.line is None
    assert peak < MAX_CONFIG_BYTES  # the contents were never read


def test_many_plain_values_under_the_size_limit_are_refused(workspace: Path) -> None:
    path = workspace / "training-config.yaml"
    items = ",".join("1" for _ in range(MAX_NODES + 10))
    path.write_text(f"version: 1\nbig: [{items}]\n", encoding="utf-8")
    issue, _ = load_traced(path)
    assert issue.message.startswith(f"the document holds more than {MAX_NODES} values")
    assert issue.line == 2

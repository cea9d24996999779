"""The one-line fast path of the YAML dataset reader: it reads the common shapes, and
whatever it reads equals what the YAML event reader reads; anything else (errors
included) is left to the YAML reader, so messages and lines do not change."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_trainer import datasets
from ci_trainer.datasets import Example, parse_dataset
from ci_trainer.errors import DatasetError

FUZZ = settings(
    max_examples=int(os.environ.get("CI_TRAINER_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

COMMON = (
    "# greetings\n"
    "greet:\n"
    "  - hello there\n"
    "  - 'it''s me'\n"
    '  - "good morning"\n'
    "\n"
    "  - {text: 'hi, you', score: 0.9}\n"
    '  - {text: "hey"}\n'
    "bye_2.0:\n"
    "- see you (later)\n"
    "- à bientôt\n"
    "- 1.5\n"
)


def test_the_common_shapes_take_the_fast_path() -> None:
    fast = datasets._read_plain_lines(COMMON)
    assert fast == [
        Example("hello there", "greet", None, 3),
        Example("it's me", "greet", None, 4),
        Example("good morning", "greet", None, 5),
        Example("hi, you", "greet", 0.9, 7),
        Example("hey", "greet", None, 8),
        Example("see you (later)", "bye_2.0", None, 10),
        Example("à bientôt", "bye_2.0", None, 11),
        Example("1.5", "bye_2.0", None, 12),
    ]
    assert fast == datasets._YamlEvents(COMMON, "d.yaml").read()


@pytest.mark.parametrize(
    "text",
    [
        "a:\n  - x: y\n",  # a mapping, not text
        "a:\n  - x #c\n",  # a comment after content
        "a:\n  - x\n    y\n",  # a multi-line scalar
        "a:\n  - x\n    - y\n",  # another indentation
        "a:\nb:\n  - x\n",  # an intent without examples: an error
        "a:\n  - ''\n",  # empty text: an error
        "a:\n  - {text: 'x', score: 1.5}\n",  # score out of range: an error
        "a:\n  - &x y\n",  # an anchor
        "a:\n  - 'x\u2028y'\n",  # a YAML line break inside
        "a:\n  - 'x\x85y'\n",  # NEL, another YAML line break
        "a:\n  - x\u2029y\n",  # a YAML line break in plain text
        "a:\r\n  - x\r\n",  # CRLF
        "a:\n\t- x\n",  # a tab
        "  - x\n",  # an example before any intent
        "# only a comment\n",  # no examples at all
        "---\na:\n  - x\n",  # a document marker
        "k" * 1025 + ":\n  - x\n",  # a key longer than YAML allows: an error
    ],
)
def test_other_shapes_are_left_to_the_yaml_reader(text: str) -> None:
    assert datasets._read_plain_lines(text) is None


def test_errors_keep_the_yaml_readers_lines_and_messages() -> None:
    text = "a:\n  - hello\n  - {text: 'x', score: 1.5}\nb:\n"
    with pytest.raises(DatasetError) as caught:
        parse_dataset(text, "d.yaml")
    assert [(i.line, i.message) for i in caught.value.issues] == [
        (3, "intent 'a': score must be a number from 0 to 1"),
        (4, "intent 'b': expected a list of examples"),
    ]


# Parts the fast path reads, and odd ones it must leave alone (or read exactly alike);
# the common parts are drawn more often, so that many files are wholly in its shapes.
GOOD_KEYS = ["a:", "b:", "1.5:", "x_y.z-1:", "a:  ", "k" * 1000 + ":"]
ODD_KEYS = ["a :", "-a:", "a: x", "'q':", "é:", "a: []", "? a", "k" * 1024 + ":", "k" * 1025 + ":"]
KEYS = GOOD_KEYS * 6 + ODD_KEYS
GOOD_DASHES = ["  - ", "- ", "    - ", "  -   "]
DASHES = GOOD_DASHES * 4 + ["\t- ", "  -", "  -\t", " -"]
GOOD_BODIES = [
    *("hello", "it's", "x - y", "yes", "null", "1.0", "(x)", "a,b", "x ", "a!?", "a/b"),
    *("grüß dich", "é", "\u00a0x\u00a0", "x\u3000y", "日本語", "\U0001f600 ok", "ça va?"),
    *("'q''s'", "' a '", "'#'", "'a: b'", "'\u00a0é'", "'\U0001f600'", "'x' ", '"d"'),
    *("{text: 'x', score: 0.5}", "{text: 'x'}", "{text: 'x', score: 1}", "{text: 'x', score: 0}"),
    *("{text: \"y\", score: 0.25 }", "{ text: 'x' , score: 0.1 }", "{text: 'a''b, c'}"),
]  # fmt: skip
ODD_BODIES = [
    *("a: b", "a #c", "~", "'a'b", "' '", "''", "'", '"a\\"b"', '"\\n"', '""'),
    *("{text: 'x', score: 1.5}", "{text: x}", "{score: 0.5, text: 'x'}", "{}", "{text:'x'}"),
    *("{text: 'x',score: .5}", "{text: 'x', score: 01}", "{text: 'x', score: 1.0e-1}"),
    *("&a x", "*a", "!t x", "[x]", "? x", "-x", "x:", "é:", "a\u2028b", "a\x85b", "\ufeffa", "'\u2028'", "'\x85'", "'\ufeff'"),
    *("'\x7f'", "'\t'", "%x", "@x", "`x", "'\u2029'", "'\ud7ff'", "'\ue000'"),
]  # fmt: skip
BODIES = GOOD_BODIES * 8 + ODD_BODIES
# Mostly plain line ends, so that many generated files are in the fast path's shapes.
ENDS = ["\n"] * 40 + ["\r\n", " #c\n", "", "\n\n", "\n# c\n", "\n  # c\n", "\n---\n"]


@st.composite
def intent_block(draw: st.DrawFn) -> str:
    """An intent key and a few examples under one (usually shared) dash."""
    dash = draw(st.sampled_from(DASHES))
    lines = [draw(st.sampled_from(KEYS)) + draw(st.sampled_from(ENDS))]
    for _ in range(draw(st.sampled_from([0] + [1, 2, 3, 4] * 4))):
        this_dash = draw(st.sampled_from([dash] * 30 + DASHES))
        lines.append(this_dash + draw(st.sampled_from(BODIES)) + draw(st.sampled_from(ENDS)))
    return "".join(lines)


def events_outcome(text: str) -> tuple[str, object]:
    try:
        return "examples", datasets._YamlEvents(text, "d.yaml").read()
    except DatasetError as exc:
        return "error", [(i.line, i.message) for i in exc.issues]
    except datasets._AliasFound:
        return "alias", None


@FUZZ
@given(st.lists(intent_block(), max_size=5).map("".join))
def test_fast_path_reads_exactly_what_the_yaml_reader_reads(text: str) -> None:
    fast = datasets._read_plain_lines(text)
    if fast is not None:
        assert ("examples", fast) == events_outcome(text)


@FUZZ
@given(st.text(alphabet="ab:-'\" \n#{},.1\t\r\x85\u2028é&*!", max_size=40))
def test_fast_path_on_random_text(text: str) -> None:
    fast = datasets._read_plain_lines(text)
    if fast is not None:
        assert ("examples", fast) == events_outcome(text)

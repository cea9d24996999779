"""The one-line fast path of the YAML dataset reader: it reads the common shapes, and
whatever it reads equals what the YAML event reader reads; anything else (errors
included) is left to the YAML reader, so messages and lines do not change."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_trainer.datasets import Example, parse_dataset
from ci_trainer.datasets.yaml_events import AliasFound, YamlEvents
from ci_trainer.datasets.yaml_lines import read_plain_lines
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
    fast = read_plain_lines(COMMON)
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
    assert fast == YamlEvents(COMMON, "d.yaml").read()


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
    assert read_plain_lines(text) is None


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
        return "examples", YamlEvents(text, "d.yaml").read()
    except DatasetError as exc:
        return "error", [(i.line, i.message) for i in exc.issues]
    except AliasFound:
        return "alias", None


@FUZZ
@given(st.lists(intent_block(), max_size=5).map("".join))
def test_fast_path_reads_exactly_what_the_yaml_reader_reads(text: str) -> None:
    fast = read_plain_lines(text)
    if fast is not None:
        assert ("examples", fast) == events_outcome(text)


@FUZZ
@given(st.text(alphabet="ab:-'\" \n#{},.1\t\r\x85\u2028é&*!", max_size=40))
def test_fast_path_on_random_text(text: str) -> None:
    fast = read_plain_lines(text)
    if fast is not None:
        assert ("examples", fast) == events_outcome(text)


# A second generator, built from the shapes the fast path accepts, so that most files it
# makes are read by the fast path (and compared with the YAML reader), with occasional
# deviations (odd lines, stray characters, lost lines) that it must leave alone. It takes
# its choices from `pick`, so the same code serves hypothesis (which shrinks a failure)
# and a seeded random.Random (which measures how many files take the fast path).
T = TypeVar("T")


class Pick(Protocol):
    def __call__(self, options: Sequence[T], /) -> T: ...


# Printable non-ASCII, the edges of the fast path's ranges included; some of it is
# whitespace to Python's str.strip, as both readers strip example text.
HIGH: list[str] = [*"éßÅ日本ça", "\u00a0", "\u3000", "\u2000", "\u2027", "\u202a", "\U0001f600"]
HIGH += ["\ud7ff", "\ue000", "\ufefe", "\uff00", "\ufffd", "\U00010000", "\U0010ffff"]
PLAIN_FIRST: list[str] = [*"abcxyzXY0189"] * 3 + HIGH
PLAIN_REST = PLAIN_FIRST + [*" _.,!?'()/-"] * 2 + ["  ", " - ", "x -", " ?"]
# Inside quotes YAML's indicators are text; '' is a quote in single quotes.
QUOTED_REST = [*PLAIN_REST, *"#:&*!|>%@`{}[],~", ": ", " #", "- ", "\\"]
SINGLE_REST = [*(c for c in QUOTED_REST if c != "'"), '"', "''", "''"]
DOUBLE_REST = [*QUOTED_REST, "'"]
DOUBLE_REST.remove("\\")
# Escapes in double quotes are left to the YAML reader.
ESCAPES = ['\\"', "\\\\", "\\n", "\\t", "\\x41", "\\u00e9", "\\/", "\\ ", "\\0", "\\N", "\\L"]
KEY_FIRST = [*"abkzAZ09_"]
KEY_REST = [*KEY_FIRST, *".-"]
WHOLE_KEYS = ["1.5", "null", "true", "_", "0", "a.b-c_1", "k" * 1000]
SCORES = ["0", "1", "0.5", "0.25", "1.0", "0.0", "0.999", "01", "00.50", "1.000", "0" * 30 + "1"]
ODD_SCORES = ["1.5", "2", ".5", "1e-1", "-0.5", "-0", "0.5.5", "x", "''", "'0.5'", "null", "1.0001"]
SPACE = ["", "", " ", "  "]
FILLERS = [None] * 12 + ["", "  ", "# c", "  # c é", "#", "    #\tx", "# 'q' {x: y} - z: w"]
ODD_LINES = [
    *("a :", "a: x", "a: []", "'q':", "é:", "? a", "-a:", " a:", "a:#c", "~x:", "1.5 :"),
    *("k" * 1001 + ":", "k" * 1024 + ":", "k" * 1025 + ":"),
    *("a:", "b:  ", "k" * 1000 + ":"),  # good keys, which may leave an intent without examples
    *("\t- x", "  - x #c", "    y", "  y", "---", "...", "%YAML 1.1", "  -", "  - ", "  -x"),
    *("  - &a x", "  - *a", "  - !!str x", "  - [x]", "  - ~", "  - ''", "  - x:", "  - a: b"),
    *("  - {text: x}", "  - {text: 'x', score: 1.5}", "  - {text: 'x', extra: 1}", "  - {}"),
    *("  - {score: 0.5, text: 'x'}", "  - {text:'x'}", "  - 'x'y", "  - \"a", "  - 'a"),
    *("  - |", "  - >", "      - x", "- x", "  - - x", "  - 'x\u2028y'", "  - x\x85y"),
]  # fmt: skip
# YAML breaks lines at \r, \x85, \u2028 and \u2029 too (and reads a tab or BOM its way),
# so those are the stray characters most likely to make a line read differently.
BREAKS = [*"\t\r\x85\u2028\u2029\ufeff"] * 3
NASTY = [*BREAKS, *"\n\x7f\x00\x1f\ud800\ufffe\uffff", *"#:&*!|>%@`'\"{}[],?-~\\ "]


def plain_text(pick: Pick) -> str:
    return pick(PLAIN_FIRST) + "".join(pick(PLAIN_REST) for _ in range(pick(range(8))))


def quoted_text(pick: Pick) -> str:
    length = range(pick(range(1, 8)))
    if pick(["single", "double"]) == "single":
        return "'" + "".join(pick(SINGLE_REST) for _ in length) + "'"
    rest = DOUBLE_REST if pick([True] * 19 + [False]) else DOUBLE_REST + ESCAPES
    return '"' + "".join(pick(rest) for _ in length) + '"'


def flow_text(pick: Pick) -> str:
    fields = "text:" + pick([" ", " ", "  "]) + quoted_text(pick) + pick(SPACE)
    if pick([True, False]):
        score = pick(SCORES * 10 + ODD_SCORES)
        fields += "," + pick(SPACE) + "score:" + pick([" ", " ", "  "]) + score + pick(SPACE)
    return "{" + pick(SPACE) + fields + "}"


def deviate(pick: Pick, lines: list[str]) -> None:
    """One change the fast path may not read: an odd line, a stray character, a lost
    line, another indentation or an odd end of line."""
    if not lines:  # every line dropped
        lines.append("")
    at = pick(range(len(lines)))
    kind = pick(["insert", "replace", "char", "char", "char", "drop", "indent", "end"])
    if kind == "insert":
        lines.insert(at, pick(ODD_LINES))
    elif kind == "replace":
        lines[at] = pick(ODD_LINES)
    elif kind == "char":
        column = pick(range(len(lines[at]) + 1))
        lines[at] = lines[at][:column] + pick(NASTY) + lines[at][column:]
    elif kind == "drop":
        del lines[at]
    elif kind == "indent":
        lines[at] = pick(["", " ", "  ", "    "]) + lines[at].lstrip(" ")
    else:
        lines[at] += pick(["\r", "\t", " #c", ":", " x: y", "\\", "'", " {", "\ufeff"])


def plain_lines_file(pick: Pick) -> str:
    """A dataset in the fast path's shapes, with a deviation now and then."""
    lines: list[str] = []
    for _ in range(pick([1, 1, 2, 2, 3, 4])):
        if (filler := pick(FILLERS)) is not None:
            lines.append(filler)
        if pick([True] * 5 + [False]):
            key = pick(KEY_FIRST) + "".join(pick(KEY_REST) for _ in range(pick(range(6))))
        else:
            key = pick(WHOLE_KEYS)
        lines.append(key + ":" + pick(SPACE))
        dash = pick(["  - ", "- ", "    - ", "  -   ", " - "])
        for _ in range(pick([1, 1, 2, 2, 3, 4])):
            if (filler := pick(FILLERS)) is not None:
                lines.append(filler)
            body = pick([plain_text, plain_text, quoted_text, flow_text])(pick)
            lines.append(dash + body + pick(SPACE))
    for _ in range(pick([0] * 7 + [1, 1, 2])):
        deviate(pick, lines)
    return "\n".join(lines) + pick(["\n", "\n", "", "\n\n"])


@st.composite
def plain_lines_files(draw: st.DrawFn) -> str:
    return plain_lines_file(lambda options: draw(st.sampled_from(options)))


def assert_fast_path_agrees(text: str) -> bool:
    """The fast path reads `text` exactly as the YAML reader does, or leaves it alone."""
    fast = read_plain_lines(text)
    if fast is not None:
        assert ("examples", fast) == events_outcome(text)
    return fast is not None


@FUZZ
@given(plain_lines_files())
def test_fast_path_reads_its_shapes_exactly_as_the_yaml_reader(text: str) -> None:
    assert_fast_path_agrees(text)


def test_most_files_of_the_fast_path_generator_take_the_fast_path() -> None:
    # A fixed sample of the generator above, also compared with the YAML reader (cheap,
    # and the same files every run): if most of its files stopped taking the fast path (a
    # change to the generator or to the fast path), the property test above would compare
    # almost nothing; and some files must still be left to the YAML reader.
    pick = random.Random(20240617).choice
    files = 3000
    taken = sum(assert_fast_path_agrees(plain_lines_file(pick)) for _ in range(files))
    assert files * 0.5 <= taken <= files * 0.9, f"{taken} of {files} files took the fast path"

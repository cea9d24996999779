"""The fast path for YAML datasets written one example per line."""

from __future__ import annotations

import re

from ci_trainer.datasets.model import Example

# The fast path: a file written in the common shapes, one line each, is read with one
# regular expression per line instead of the YAML parser (whose event objects are most of
# the time on a large file). Every character class below is a subset on which the YAML
# reading is unambiguous: no tabs, no line breaks other than "\n" (YAML also breaks
# lines at \r, \x85, \u2028, \u2029), nothing the YAML reader refuses as non-printable,
# no anchors, tags, comments after content, or multi-line scalars. Anything else, and any
# file that would give an error, is read by the YAML parser, so messages and lines come
# from one place.
_HIGH = r"\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"
_IN_SINGLE = r"\x20-\x26\x28-\x7e" + _HIGH  # printable but "'" (written '')
_IN_DOUBLE = r"\x20\x21\x23-\x5b\x5d-\x7e" + _HIGH  # printable but '"' and backslash
_SINGLE = rf"'([{_IN_SINGLE}]*(?:''[{_IN_SINGLE}]*)*)'"
_DOUBLE = rf'"([{_IN_DOUBLE}]*)"'
_PLAIN_LINE = re.compile(
    # an intent: a plain key at column 0 (every scalar is read as text, so `1.5:` is too);
    # YAML refuses an implicit key over 1,024 characters
    r"([A-Za-z0-9_][A-Za-z0-9_.-]{0,999}):[ ]*"
    # an example: `- ` at the intent's indentation, then ...
    r"|([ ]*)-[ ]+(?:"
    # ... plain text: no character that could start or end anything else in YAML (all of
    # YAML's indicators are ASCII, so printable non-ASCII text is plain)
    rf"([A-Za-z0-9{_HIGH}][A-Za-z0-9 _.,!?'()/{_HIGH}-]*)"
    # ... or a quoted string
    rf"|{_SINGLE}[ ]*|{_DOUBLE}[ ]*"
    # ... or {text: 'quoted'} with an optional score: a plain decimal number
    rf"|\{{[ ]*text:[ ]+(?:{_SINGLE}|{_DOUBLE})[ ]*"
    r"(?:,[ ]*score:[ ]+([0-9]+(?:\.[0-9]+)?)[ ]*)?\}[ ]*"
    r")"
    # a blank or comment line
    rf"|[ ]*(?:#[\t\x20-\x7e{_HIGH}]*)?"
)


def read_plain_lines(text: str) -> list[Example] | None:
    """The examples of a file in the common one-line shapes, or None when the file has
    any other line or any problem (the YAML reader then reads it and reports)."""
    examples: list[Example] = []
    append = examples.append
    match = _PLAIN_LINE.fullmatch
    intent: str | None = None
    indent: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        found = match(line)
        if found is None:
            return None
        key, dash, plain, single, double, flow_single, flow_double, score = found.groups()
        if key is not None:
            if intent is not None and indent is None:
                return None  # an intent without examples: the YAML reader says so
            intent, indent = key, None
            continue
        if dash is None:
            continue  # blank or comment
        if intent is None or (indent is not None and dash != indent):
            return None
        indent = dash
        value = _one_line_text(plain, single, double, flow_single, flow_double).strip()
        if not value:
            return None
        number_score = None
        if score is not None:
            number_score = float(score)
            if number_score > 1.0:
                return None
        append(Example(text=value, intent=intent, score=number_score, line=number))
    if intent is None or indent is None:
        return None
    return examples


def _one_line_text(
    plain: str | None,
    single: str | None,
    double: str | None,
    flow_single: str | None,
    flow_double: str | None,
) -> str:
    if plain is not None:
        return plain
    if single is not None:
        return single.replace("''", "'")
    if flow_single is not None:
        return flow_single.replace("''", "'")
    return double if double is not None else flow_double or ""

"""Keep secret values, and text able to act as a runner command, out of every string
that leaves the process.

A secret leaks in more forms than its own: a service may echo it URL- or form-encoded,
base64-encoded (HTTP basic auth sends `id:secret`), JSON-escaped or as a Python repr in
an exception. The Redactor registers each of those forms of every secret it is given.

Text that came from the service or a user file reaches the log too; `neutralise_commands`
makes sure no line of it can be read by the GitHub runner as a workflow command.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words
# A base64 core shorter than this is too likely to occur in unrelated text.
_MIN_BASE64_LEN = 8
# Parts of a secret between control characters, registered on their own: the runner
# splits a line at CR/LF, so each part could be printed alone.
_MIN_PART_LEN = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def secret_forms(value: str) -> list[str]:
    """`value` and the encodings it could be echoed in, raw form first."""
    forms = [value]
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value, safe="")):
        forms += [encoded, _PERCENT.sub(lambda m: m.group().lower(), encoded)]
    for ascii_only in (True, False):
        escaped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        forms += [escaped, escaped.replace("/", "\\/")]
    forms += _python_escapes(value)
    forms += _base64_cores(value.encode("utf-8"))
    unique = list(dict.fromkeys(forms))
    return [form for form in unique if len(form) >= _MIN_SECRET_LEN]


def _python_escapes(value: str) -> list[str]:
    # repr() escapes character by character, except for the quote it picks for the whole
    # string (which depends on the text around the secret): both forms are registered.
    forms = []
    for escape in (repr, ascii):
        pieces = [escape(char)[1:-1] for char in value]
        forms.append("".join(pieces))
        forms.append(
            "".join("\\'" if char == "'" else p for char, p in zip(value, pieces, strict=True))
        )
    as_bytes = repr(value.encode("utf-8"))[2:-1]
    return [*forms, as_bytes, as_bytes.replace("\\'", "'")]


def _base64_cores(data: bytes) -> list[str]:
    """The base64 text `data` produces wherever it sits inside a longer input.

    Base64 works on 3-byte groups, so the secret's encoding depends on its offset
    (mod 3) in what was encoded, e.g. after `client-id:` in basic auth. For each offset
    the groups lying wholly inside the secret encode the same way every time; those
    "cores" are registered (standard and URL-safe alphabets). At most the two edge
    characters, which also carry bits of the neighbouring bytes, stay visible.

    A secret at the end of what was encoded (HTTP basic auth's `id:secret`) ends in a
    last, partial group that holds its final bytes alone: that tail is registered too,
    padded and unpadded (base64url often drops the `=`), or up to two bytes of the
    secret would stay readable after the mask.
    """
    cores = []
    for start in range(3):
        whole = (len(data) - start) // 3 * 3
        if whole <= 0:
            continue
        core = base64.b64encode(data[start : start + whole]).decode("ascii")
        if len(core) < _MIN_BASE64_LEN:
            continue
        ending = base64.b64encode(data[start:]).decode("ascii")
        for form in dict.fromkeys([core, ending, ending.rstrip("=")]):
            cores += [form, form.replace("+", "-").replace("/", "_")]
    return cores


def _pattern_of(value: str) -> str:
    # Percent escapes match in either case (%2F, %2f), as servers are free to choose.
    return re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: "%" + "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in m[1]),
        re.escape(value),
    )


class Redactor:
    """A set of secret values (each in all its forms), growing as tokens are issued.

    `on_new` is called once for each new form (the action wires it to `::add-mask::`),
    before the value is used, so the runner masks it before anything could print it.
    With `forms=False` only the values given are masked: for a listener's own copy, which
    is handed every form already.
    """

    def __init__(
        self,
        secrets: Iterable[str | None] = (),
        on_new: Callable[[str], None] | None = None,
        *,
        forms: bool = True,
    ) -> None:
        self._forms = forms
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._on_new = on_new
        for value in secrets:
            self.add(value)

    def set_listener(self, on_new: Callable[[str], None]) -> None:
        with self._lock:
            self._on_new = on_new
            values = sorted(self._values)
        for value in values:
            on_new(value)

    def add(self, value: str | None) -> None:
        if not value or len(value) < _MIN_SECRET_LEN:
            return
        forms = secret_forms(value) if self._forms else [value]
        for part in _CONTROL.split(value) if self._forms and _CONTROL.search(value) else ():
            if len(part) >= _MIN_PART_LEN:
                forms += secret_forms(part)
        with self._lock:
            new = [form for form in dict.fromkeys(forms) if form not in self._values]
            if not new:
                return
            self._values.update(new)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(_pattern_of(v) for v in ordered))
            listener = self._on_new
        if listener is not None:
            for form in new:
                listener(form)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    @property
    def values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON-like tree (dicts, lists, scalars) with `change` applied to every
    string in it, dict keys included: how a Redactor scrubs a record or an event."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [map_strings(item, change) for item in value]
    return value


# --- runner commands -----------------------------------------------------------------

# The runner reads a step's output with .NET's ReadLine (a line ends at CR, LF or CRLF)
# and takes a line as a command when, after TrimStart, it starts with `::`, or when it
# holds `##[` anywhere (the legacy form); see actions/runner ActionCommand.cs.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
LEGACY_PREFIX = "##["
COMMAND_KEY = "::"
# What a neutralised line starts with: visible, ASCII, and no whitespace (which the
# runner would trim). Zero-width characters are not used: .NET's culture-aware
# StartsWith may skip them.
QUOTE_MARK = "> "
_LEGACY_BROKEN = "## ["
REPLACEMENT = "\ufffd"


def _invisible(char: str) -> bool:
    # Control and format characters (NUL, ESC, zero-width and bidi marks) are hidden in
    # a log or rearrange it; culture-aware comparison may also ignore them.
    return char != "\t" and unicodedata.category(char) in ("Cc", "Cf")


def _clean_line(line: str) -> str:
    if any(_invisible(char) for char in line):
        line = "".join(REPLACEMENT if _invisible(char) else char for char in line)
    return line.replace(LEGACY_PREFIX, _LEGACY_BROKEN)


def neutralise_line(line: str) -> str:
    """One line (no CR/LF in it) that the runner cannot read as a command."""
    line = _clean_line(line)
    if line.lstrip().startswith(COMMAND_KEY):
        return QUOTE_MARK + line
    return line


def neutralise_commands(text: str) -> str:
    """`text` with no line able to act as a runner command; line breaks become LF."""
    return "\n".join(neutralise_line(line) for line in _LINE_BREAK.split(text))


def neutralise_data(text: str) -> str:
    """The data or a property of a command we write: line breaks are escaped by the
    writer, so only invisible characters and the legacy `##[` form are changed."""
    return "\n".join(_clean_line(line) for line in _LINE_BREAK.split(text))


def one_line(text: str) -> str:
    """`text` on a single line that is not a command (line breaks become ` / `)."""
    parts = [part.strip() for part in _LINE_BREAK.split(text)]
    return neutralise_line(" / ".join(part for part in parts if part))

"""Markdown building blocks: escaping untrusted text, formatting figures, tables.

Every string that came from a config file or a server goes through `escape` before it
enters the Markdown, so a crafted intent name, dataset id or server message cannot break
a table, inject HTML, or start a workflow command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_WWW = re.compile(r"(?i)(www)\.")


def escape(text: object) -> str:
    """Make any string safe inside a Markdown paragraph or table cell.

    HTML metacharacters become entities (no tags, no entity tricks); Markdown
    punctuation that could open emphasis, links, code or a table column is
    backslash-escaped; newlines and other control characters become one space so a
    value cannot end a table row.
    """
    value = _CONTROL.sub(" ", str(text))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", value)
    # GFM turns bare URLs and e-mail addresses into links. An escaped `:` or `.` keeps a
    # URL plain text; e-mail linking ignores escapes, so an invisible word joiner after
    # `@` breaks it.
    value = value.replace("://", "\\://").replace("@", "@\u2060")
    return _WWW.sub(r"\1\\.", value)


def fenced(text: str, language: str = "") -> str:
    """A fenced code block that the content cannot close, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def one_line(text: str) -> str:
    """Collapse a message to a single line (outputs are read by `${{ }}` expressions)."""
    return " ".join(_CONTROL.sub(" ", text).split())


# --- number formatting ---------------------------------------------------------------


def fmt(value: float | int | str | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"
    return escape(value)


def fmt_signed(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GFM table; cells must already be escaped."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)

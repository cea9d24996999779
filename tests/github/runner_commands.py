"""How the GitHub runner reads a step's output for commands, re-implemented for tests.

From actions/runner: ProcessInvoker reads stdout and stderr with StreamReader.ReadLine
(a line ends at CR, LF or CRLF); ActionCommandManager.TryProcessCommand tries
ActionCommand.TryParseV2 (after TrimStart, the line starts with `::`; the command info
runs to the next `::`; its first word is the name) and then ActionCommand.TryParse (the
legacy form: `##[` anywhere, the info runs to the next `]`). A name counts only when it
is registered (case-insensitive). `::stop-commands::TOKEN` pauses processing until a
command named TOKEN arrives.

The runner compares culture-aware (`StartsWith`, `IndexOf`), which may skip control and
format characters; to stay on the safe side this model also parses each line with those
characters removed, and a line counts as a command when either reading finds one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

REGISTERED = frozenset(
    {
        "add-mask",
        "add-matcher",
        "add-path",
        "debug",
        "echo",
        "endgroup",
        "error",
        "group",
        "notice",
        "remove-matcher",
        "save-state",
        "set-env",
        "set-output",
        "warning",
        "stop-commands",
    }
)
# char.IsWhiteSpace in .NET: what TrimStart removes.
_NET_WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(code) for code in range(0x2000, 0x200B)
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Command:
    name: str
    properties: dict[str, str]
    data: str
    line: str


def read_lines(text: str) -> list[str]:
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _unescape(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for escaped, char in pairs:
        text = text.replace(escaped, char)
    return text


_DATA = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
_PROPERTY = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))


def parse_v2(line: str, registered: frozenset[str]) -> Command | None:
    message = line.lstrip(_NET_WHITESPACE)
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    name = info.split(" ", 1)[0]
    if name.lower() not in registered:
        return None
    properties: dict[str, str] = {}
    if " " in info:
        for pair in info.split(" ", 1)[1].strip().split(","):
            key, sep, value = pair.partition("=")
            if sep and key and value:
                properties[key] = _unescape(value, _PROPERTY)
    return Command(name.lower(), properties, _unescape(message[end + 2 :], _DATA), line)


def parse_legacy(line: str, registered: frozenset[str]) -> Command | None:
    start = line.find("##[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    name = line[start + 3 : end].split(" ", 1)[0]
    if name.lower() not in registered:
        return None
    return Command(name.lower(), {}, line[end + 1 :], line)


def _visible(line: str) -> str:
    return "".join(char for char in line if unicodedata.category(char) not in ("Cc", "Cf"))


def parse(line: str, registered: frozenset[str] = REGISTERED) -> Command | None:
    for reading in dict.fromkeys((line, _visible(line))):
        command = parse_v2(reading, registered) or parse_legacy(reading, registered)
        if command is not None:
            return command
    return None


@dataclass
class Runner:
    """The runner's command processing over a whole output, stop-commands included."""

    processed: list[Command] = field(default_factory=list)
    _stop_token: str | None = None

    def feed(self, text: str) -> list[Command]:
        for line in read_lines(text):
            registered = REGISTERED | ({self._stop_token.lower()} if self._stop_token else set())
            command = parse(line, registered)
            if command is None:
                continue
            if self._stop_token is not None:
                if command.name == self._stop_token.lower():
                    self._stop_token = None
                    self.processed.append(command)
                continue
            if command.name == "stop-commands":
                self._stop_token = command.data
            self.processed.append(command)
        return self.processed

    @property
    def stopped(self) -> bool:
        return self._stop_token is not None

"""The runner's side of the file commands, re-implemented from actions/runner for tests.

GITHUB_OUTPUT lines are `name=value` or a heredoc `name<<DELIM` ... `DELIM`; the runner
reads the value verbatim (no unescaping) and fails the step when a delimiter is missing.
"""

from __future__ import annotations

from pathlib import Path


class FileCommandError(Exception):
    pass


def parse_github_output(text: str) -> dict[str, str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    values: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line:
            index += 1
            continue
        heredoc = line.find("<<")
        equals = line.find("=")
        if heredoc > 0 and (equals < 0 or heredoc < equals):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not delimiter:
                raise FileCommandError(f"empty delimiter for {name!r}")
            body: list[str] = []
            index += 1
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                raise FileCommandError(f"matching delimiter not found for {name!r}")
            values[name] = "\n".join(body)
        elif equals > 0:
            values[line[:equals]] = line[equals + 1 :]
        else:
            raise FileCommandError(f"invalid line {line!r}")
        index += 1
    return values


def read_github_output(path: Path) -> dict[str, str]:
    return parse_github_output(path.read_text(encoding="utf-8"))

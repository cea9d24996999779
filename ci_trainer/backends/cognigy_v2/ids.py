"""Cognigy's path ids (C14: `^[a-z0-9]{24}$`).

An id from the config or from an answer goes into the next request's path, so one of
another shape (a dot segment, a "/" or "?") is refused before it can change the URL.
"""

from __future__ import annotations

import re

from ci_trainer.errors import ContractError

_OBJECT_ID = re.compile(r"^[a-z0-9]{24}$")


def path_id(value: str) -> str:
    """`value`, when it is a Cognigy id; else a ContractError and nothing is sent."""
    if not _OBJECT_ID.fullmatch(value):
        shown = value[:40] + ("..." if len(value) > 40 else "")
        raise ContractError(
            call="path id",
            message_text=f"{shown!r} is not a Cognigy id (24 lower-case letters or digits); "
            "nothing was sent",
            hint_text="the id came from the service or the config; quote it to support",
        )
    return value

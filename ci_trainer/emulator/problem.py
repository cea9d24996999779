"""`Problem`: how every part of the emulator says "answer this RFC 7807 error"."""

from __future__ import annotations

from collections.abc import Mapping


class Problem(Exception):
    """An RFC 7807 answer: the HTTP layer turns it into application/problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})

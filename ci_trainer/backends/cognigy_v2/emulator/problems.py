"""How the v2 emulator's parts say "answer with this error": a Cognigy problem (RFC 7807
with `code`), a rate limit, an OAuth-style error, or a Task's failReason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class V2Problem(Exception):
    status: int
    detail: str
    code: int = 1005

    def __str__(self) -> str:
        return self.detail


class TaskFailed(Exception):
    """Ends a task with status `error` and this failReason."""


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class RateLimited(V2Problem):
    def __init__(self, wait: int) -> None:
        super().__init__(429, f"too many requests; retry in {wait} s", 429)
        self.wait = wait

"""The request log every emulator personality keeps: what it was asked and what it
answered, for tests and for the `ci-trainer emulator` console."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestRecord:
    """One request as an emulator saw it. `status` is None when the connection was
    dropped. A personality fills in what its contract knows (the v1 operation and client,
    the v2 content negotiation); the rest keeps its default."""

    method: str
    path: str
    status: int | None
    operation: str | None = None
    call: int = 0  # 1-based count of this operation's calls (0: not an operation)
    client_id: str | None = None
    faults: tuple[str, ...] = ()
    idempotency_key: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    accept: str = ""
    has_body: bool = False
    content_type: str = ""


class RequestLog:
    """Every request answered, in order; safe to add to from the server's threads."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> tuple[RequestRecord, ...]:
        """A copy: the log keeps growing while the emulator serves."""
        with self._lock:
            return tuple(self._records)

    def with_path_part(self, part: str) -> list[RequestRecord]:
        return [record for record in self.records() if part in record.path]

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.records())

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

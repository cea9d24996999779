"""Read-only snapshots of the emulator's state, for tests and for `ci-trainer emulator` logs.

The live records are mutable and guarded by the service's lock; these frozen copies are
what `Emulator.state` hands out, so a test can inspect them without racing the workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ci_trainer.emulator.requestlog import RequestRecord


@dataclass(frozen=True)
class TrainingView:
    training_id: str
    model_id: str
    status: str
    progress: float
    message: str | None
    client_id: str
    idempotency_key: str | None
    request: dict[str, Any]
    version_id: str | None
    epochs_run: int
    compute_seconds: float | None


@dataclass(frozen=True)
class VersionView:
    version_id: str
    model_id: str
    training_id: str
    created_at: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class EmulatorState:
    trainings: dict[str, TrainingView] = field(default_factory=dict)
    versions: dict[str, VersionView] = field(default_factory=dict)
    # model id -> version id in production (absent: never promoted)
    production: dict[str, str] = field(default_factory=dict)
    requests: tuple[RequestRecord, ...] = ()
    # Every bearer token handed out, in order: secret sweeps grep outputs for them.
    issued_tokens: tuple[str, ...] = field(default=(), repr=False)

    @property
    def tokens_issued(self) -> int:
        return len(self.issued_tokens)

    def requests_for(self, operation: str) -> list[RequestRecord]:
        return [record for record in self.requests if record.operation == operation]

    def trainings_for(self, model_id: str) -> list[TrainingView]:
        return [view for view in self.trainings.values() if view.model_id == model_id]

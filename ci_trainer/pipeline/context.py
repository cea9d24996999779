"""What every stage of a run needs: the config, the reporter, the stop event, the findings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from ci_trainer.backend_types import TrainingJob
from ci_trainer.config import LoadedConfig
from ci_trainer.config.model import TrainingConfig
from ci_trainer.decision import Decision
from ci_trainer.errors import Interrupted
from ci_trainer.pipeline.findings import Recorder
from ci_trainer.progress import Reporter
from ci_trainer.result import Message, Mode, Provenance


@dataclass(frozen=True)
class Ruling:
    """A decision a stage reached, with the sentence that explains it."""

    decision: Decision
    reason: str
    reasons: tuple[str, ...] = ()


class StageContext:
    """The state one run of the stages shares; only the stages' worker thread changes it."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        mode: Mode,
        run_uuid: str,
        reporter: Reporter,
        stop: threading.Event,
        provenance: Provenance,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loaded = loaded
        self.config: TrainingConfig = loaded.config
        self.mode = mode
        self.run_uuid = run_uuid
        self.reporter = reporter
        self.stop = stop
        self.provenance = provenance
        self.clock = clock
        self.recorder = Recorder()
        self.live_job: TrainingJob | None = None  # started and not yet final
        self.last_job: TrainingJob | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """A reporter stage that is not entered once the run was asked to stop."""
        if self.stop.is_set():
            msg = f"the run was cancelled (SIGINT/SIGTERM) before the stage '{name}'"
            raise Interrupted(msg, hint="re-run the job to train")
        with self.reporter.stage(name):
            yield

    def message(
        self,
        level: str,
        text: str,
        *,
        title: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        """A notice, warning or error for the user (at a file's line, when given), kept
        in the findings too."""
        message = Message(level=level, text=text, title=title, file=file, line=line)
        self.recorder.add_message(message)
        self.reporter.message(message)


def now() -> datetime:
    return datetime.now(timezone.utc)

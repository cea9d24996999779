"""The embedded emulator's memory between runs (`run --emulator`): one JSON file in a folder.

Only data is kept, never a pickled model: for each model, the version in production and
the examples and hyperparameters it was trained with. The emulator re-trains it at start
(well under a second), so reading the folder back can run no code, and every field is
checked against the schema below. A folder that cannot be used raises
`EmulatorStateError` naming the folder and the reset flag; nothing is ever deleted but
the one file this module writes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ci_trainer.errors import EmulatorStateError

STATE_FILE = "state.json"
DEFAULT_FOLDER = ".ci-trainer-emulator"  # next to the config; git-ignored by the project
RESET_FLAG = "--emulator-reset"
FORMAT = "ci-trainer emulator state"
# Far above any committed dataset's examples as JSON; a bigger file is not ours.
MAX_BYTES = 64 * 1024 * 1024
_MAX_TEXT = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class KeptExample(_Strict):
    text: str = Field(min_length=1, max_length=_MAX_TEXT)
    intent: str = Field(min_length=1, max_length=500)


class KeptVersion(_Strict):
    """A version in production and what it was trained on, enough to train it again."""

    version_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    training_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    created_at: str = Field(max_length=64)
    promoted_at: str = Field(max_length=64)
    # Where it came from, as the console and summary say it ("the emulator's baseline
    # from commit 1a2b3c4", "promoted by a run on ...").
    origin: str = Field(max_length=300, pattern=r"^[^\x00-\x1f\x7f]*$")  # one line
    dataset_ids: list[str] = Field(default_factory=list, max_length=1000)
    validation_split: float = Field(gt=0, lt=1)
    hyperparameters: dict[str, int | float]
    examples: list[KeptExample] = Field(min_length=1)


class EmulatorState(_Strict):
    format: Literal["ci-trainer emulator state"] = "ci-trainer emulator state"
    version: Literal[1] = 1
    backend: str = Field(max_length=100)
    # model id -> its production version
    production: dict[str, KeptVersion] = Field(default_factory=dict)


def folder_for(explicit: Path | None, config_path: Path) -> Path:
    """`--emulator-state DIR`, else a folder next to the config (per project, so runs of
    two configs never share a champion)."""
    return explicit if explicit is not None else config_path.parent / DEFAULT_FOLDER


class StateFolder:
    """`DIR/state.json`; `read` validates it, `write` replaces it atomically."""

    def __init__(self, path: Path, backend: str) -> None:
        self.path = path
        self.backend = backend

    @property
    def reset_hint(self) -> str:
        return f"{RESET_FLAG} forgets it"

    @property
    def file(self) -> Path:
        return self.path / STATE_FILE

    def reset(self) -> bool:
        """Forget what earlier runs left (only our file); True when there was something."""
        try:
            self.file.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            msg = f"cannot remove {STATE_FILE}: {exc.strerror or exc}"
            raise self._error(msg) from None
        return True

    def read(self) -> EmulatorState:
        """The kept state; an empty one when the folder or its file does not exist yet."""
        if self.path.exists() and not self.path.is_dir():
            msg = "it is not a folder"
            raise self._error(msg, hint=False)
        try:
            size = self.file.stat().st_size
        except FileNotFoundError:
            return EmulatorState(backend=self.backend)
        except OSError as exc:
            msg = f"cannot read {STATE_FILE}: {exc.strerror or exc}"
            raise self._error(msg) from None
        if size > MAX_BYTES:
            msg = f"{STATE_FILE} is {size} bytes, more than this emulator writes"
            raise self._error(msg)
        try:
            raw: Any = json.loads(self.file.read_bytes())
        except (OSError, ValueError) as exc:
            msg = f"{STATE_FILE} is not readable JSON ({_short(exc)})"
            raise self._error(msg) from None
        state = self._validated(raw)
        if state.backend != self.backend:
            msg = (
                f"it holds the state of a `backend: {state.backend}` emulator, "
                f"and this config's backend is {self.backend}"
            )
            raise self._error(msg)
        return state

    def _validated(self, raw: Any) -> EmulatorState:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            msg = f"{STATE_FILE} is not a ci-trainer emulator state file"
            raise self._error(msg)
        if raw.get("version") != 1:
            msg = f"{STATE_FILE} has version {raw.get('version')!r}, not 1"
            raise self._error(msg)
        try:
            return EmulatorState.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(top)"
            msg = f"{STATE_FILE}: {where}: {first['msg']}"
            raise self._error(msg) from None

    def write(self, state: EmulatorState) -> None:
        """Replace the file in one step, so a run stopped half-way leaves the old one."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".state-", dir=self.path)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(state.model_dump_json())
            Path(temporary).replace(self.file)
        except OSError as exc:
            msg = f"cannot write {STATE_FILE}: {exc.strerror or exc}"
            raise self._error(msg) from None

    def _error(self, problem: str, *, hint: bool = True) -> EmulatorStateError:
        fix = (
            f"run again with {RESET_FLAG} to start from a fresh state"
            if hint
            else "give --emulator-state a folder"
        )
        return EmulatorStateError(f"emulator state folder {self.path}: {problem}", hint=fix)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__

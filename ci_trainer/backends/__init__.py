"""The backend registry: the one place that knows which backends exist.

Each name the config's `backend:` admits maps to a package under `ci_trainer/backends/`
that holds everything of that backend (client, wire format, contract, emulator
personality) and, in its `__init__`, the plug-in functions of `BackendPlugin`. The way
cibuildwheel keeps its platforms: a new backend is a new package and a line here, and
no other module compares backend names; it asks `plugin(name)`.

Plug-in packages import their heavy parts inside the functions, so asking the registry
costs a run nothing until it builds the backend it uses.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TextIO, cast

if TYPE_CHECKING:
    from ci_trainer.backends.base import Backend
    from ci_trainer.config import LoadedConfig
    from ci_trainer.emulator.tls import TlsFiles
    from ci_trainer.http.policy import RetryPolicy
    from ci_trainer.redact import Redactor
    from ci_trainer.settings import Settings

# The backend a config without `backend:` uses (the config model's default too).
DEFAULT_BACKEND = "cognigy-v1"
_PACKAGES: dict[str, str] = {
    "cognigy-v1": "ci_trainer.backends.cognigy_v1",
    "cognigy-v2": "ci_trainer.backends.cognigy_v2",
}


@dataclass(frozen=True)
class BackendRequest:
    """What a plug-in may use to build the backend for one run.

    `wait` sleeps and returns True when the run is stopping: retry sleeps wake on it, but
    it is deliberately not the client's own stop flag, so that after a SIGTERM the
    pipeline can still send the cancel for the remote job (it checks the stop flag between
    stages itself).
    """

    settings: Settings
    loaded: LoadedConfig
    model_id: str
    redactor: Redactor
    wait: Callable[[float], bool]
    retry_policy: RetryPolicy | None = None


@dataclass(frozen=True)
class EmulatorRun:
    """An embedded emulator serving one run (`run --emulator`): where it listens, the
    secret it issued (to be masked before anything prints), the run's settings pointed
    at it, and notes on its state (where production came from), for console and summary."""

    base_url: str
    secret: str
    settings: Settings
    description: str
    notes: tuple[str, ...] = ()


class BackendPlugin(Protocol):
    """What a backend package's `__init__` provides (modules satisfy it, as in
    cibuildwheel's platforms)."""

    NAME: str

    def missing_credentials(self, settings: Settings) -> list[str]:
        """The environment names a run against this backend still needs; [] when it can
        reach its service."""
        ...

    def given_credentials(self, settings: Settings) -> list[str]:
        """The environment names of this backend's credentials that are set: with some
        missing too, the run is `invalid` rather than `skipped`."""
        ...

    def prefetch(self, env: Mapping[str, str]) -> bool:
        """Send the run's first request early, before the pipeline's imports, when the
        environment says for sure what it will be; True when one went out. Must be cheap
        and never raise (`ci_trainer.startup` calls it right after argument parsing)."""
        ...

    def build(self, request: BackendRequest) -> Backend:
        """The backend for one run (only called when `missing_credentials` is empty)."""
        ...

    def emulate(
        self, loaded: LoadedConfig, settings: Settings
    ) -> AbstractContextManager[EmulatorRun]:
        """This backend's emulator personality, serving the loaded config on a free
        loopback port for the length of the `with` block. (Not `emulator`: that name is
        the personality's subpackage.)"""
        ...

    def serve(
        self,
        loaded: LoadedConfig,
        args: argparse.Namespace,
        env: Mapping[str, str],
        out: TextIO,
        tls: TlsFiles | None,
    ) -> int:
        """`ci-trainer emulator` for a config of this backend: announce the personality on
        `out` and serve it until SIGINT or SIGTERM; the process exit code. `env` gives the
        credentials it should accept, `tls` the certificate of `--tls-dir`."""
        ...


def names() -> tuple[str, ...]:
    """Every registered backend name."""
    return tuple(_PACKAGES)


def plugin(name: str) -> BackendPlugin:
    """The plug-in of a registered backend; KeyError for an unknown name (the config
    model admits registered names only)."""
    return cast("BackendPlugin", importlib.import_module(_PACKAGES[name]))

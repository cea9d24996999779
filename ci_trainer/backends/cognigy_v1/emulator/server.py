"""`Emulator`: the whole training service on a loopback port, in a background thread.

    with Emulator(datasets={"ds_faq": Path("datasets/faq.yaml")}) as emu:
        client = make_client(emu.base_url, emu.client_id, emu.client_secret)
        ...
        assert emu.state.trainings[training_id].status == "COMPLETED"

The server is werkzeug's threaded WSGI server (one thread per connection), so several
pipelines can use one emulator at once.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_trainer.backends.cognigy_v1.emulator.app import BASE_PATH, EmulatorApp
from ci_trainer.backends.cognigy_v1.emulator.auth import ALL_SCOPES, Credentials
from ci_trainer.backends.cognigy_v1.emulator.jobs import TERMINAL, Timing
from ci_trainer.backends.cognigy_v1.emulator.service import DatasetStore, Service
from ci_trainer.backends.cognigy_v1.emulator.state import EmulatorState, TrainingView
from ci_trainer.emulator.faults import FaultPlan
from ci_trainer.emulator.ratelimit import RateLimit
from ci_trainer.emulator.serving import ServedApp
from ci_trainer.emulator.tls import TlsFiles

if TYPE_CHECKING:
    from ci_trainer.config import LoadedConfig

logger = logging.getLogger("ci_trainer.emulator")


class Emulator(ServedApp):
    """The training service emulator; a context manager that serves on a free port.

    `datasets` maps dataset ids to committed files. Credentials are generated unless
    given. `time_scale` and `training_seconds` set apparent training time (jobs.py);
    `fault_plan` scripts failures (faults.py); `token_expires_in` is the token lifetime;
    `granted_scopes` limits what the client may get (default: all four); `rate_limit`
    is off unless given; `workers` trainings compute at once. `holdout_path` is only
    carried for callers (from the config); the emulator does not read it.
    """

    url_path = BASE_PATH

    def __init__(
        self,
        datasets: Mapping[str, Path | str],
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        time_scale: float = 1.0,
        fault_plan: FaultPlan | str | Path | None = None,
        token_expires_in: float = 3600.0,
        granted_scopes: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        training_seconds: float | None = None,
        rate_limit: RateLimit | None = None,
        workers: int = 2,
        holdout_path: Path | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        if time_scale < 0 or (training_seconds is not None and training_seconds < 0):
            msg = "time_scale and training_seconds must not be negative"
            raise ValueError(msg)
        if token_expires_in <= 0:
            msg = "token_expires_in must be a positive number of seconds"
            raise ValueError(msg)
        if workers < 1:
            msg = "workers must be at least 1"
            raise ValueError(msg)
        scopes = frozenset(ALL_SCOPES if granted_scopes is None else granted_scopes)
        if not scopes <= set(ALL_SCOPES):
            msg = f"granted_scopes: unknown scope(s) {sorted(scopes - set(ALL_SCOPES))}"
            raise ValueError(msg)
        self.client_id = client_id or f"emulator-{secrets.token_hex(4)}"
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.generated_credentials = client_id is None or client_secret is None
        self.holdout_path = holdout_path
        # Config datasets without a committed file: the emulator cannot serve them.
        self.unserved_datasets: list[str] = []
        self.fault_plan = _plan(fault_plan)
        store = DatasetStore({key: Path(value) for key, value in datasets.items()})
        self.service = Service(
            store,
            Credentials(self.client_id, self.client_secret, scopes, token_expires_in),
            Timing(time_scale=time_scale, training_seconds=training_seconds),
            workers=workers,
        )
        self.app: EmulatorApp = EmulatorApp(
            self.service, fault_plan=self.fault_plan, rate_limit=rate_limit
        )
        super().__init__(host, port, tls=tls)

    def __repr__(self) -> str:  # never the secret
        return f"Emulator(base_url={self.base_url!r}, client_id={self.client_id!r})"

    @classmethod
    def from_config(cls, config_path: str | Path, **kwargs: Any) -> Emulator:
        """Serve the datasets a training config names (paths relative to the config file).

        Raises `ConfigError` for a config that cannot be read, `DatasetError` for a
        dataset file that cannot be.
        """
        from ci_trainer.config import load_config

        return cls.from_loaded(load_config(config_path), **kwargs)

    @classmethod
    def from_loaded(cls, loaded: LoadedConfig, **kwargs: Any) -> Emulator:
        """Serve the datasets of a config already loaded; `DatasetError` for a dataset
        file that cannot be read."""
        datasets = {ref.id: loaded.resolve(ref.path) for ref in loaded.config.datasets if ref.path}
        holdout = loaded.config.holdout
        kwargs.setdefault("holdout_path", loaded.resolve(holdout.path) if holdout else None)
        emulator = cls(datasets, **kwargs)
        emulator.unserved_datasets = [ref.id for ref in loaded.config.datasets if not ref.path]
        emulator.check_datasets()
        return emulator

    @property
    def dataset_paths(self) -> dict[str, Path]:
        """Dataset id -> the file the emulator serves it from."""
        return dict(self.service.datasets.paths)

    def check_datasets(self) -> None:
        """Read every dataset file now, so a broken one fails at start (`DatasetError`)."""
        for dataset_id in self.service.datasets.paths:
            self.service.datasets.load(dataset_id)

    def _close_service(self) -> None:
        self.service.close()

    # -- inspection ---------------------------------------------------------------------

    @property
    def state(self) -> EmulatorState:
        """A consistent snapshot: trainings, versions, production pointers, request log."""
        return self.service.snapshot()

    def wait_for_training(self, training_id: str, timeout: float = 30.0) -> TrainingView:
        """Block until the training is COMPLETED, FAILED or CANCELLED (tests)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.state.trainings[training_id]
            if view.status in TERMINAL or time.monotonic() >= deadline:
                return view
            time.sleep(0.02)

    def set_fault_plan(self, plan: FaultPlan | str | Path | None) -> None:
        """Replace the fault plan while serving (call numbers keep counting)."""
        self.fault_plan = _plan(plan)
        self.app.fault_plan = self.fault_plan

    def call_count(self, operation_id: str) -> int:
        """How many requests reached this operation so far (what fault `calls` count)."""
        return self.app.call_count(operation_id)

    def issued_tokens(self) -> list[str]:
        """Every access token issued so far (tests assert none leaks into output)."""
        return self.service.issued_tokens()

    def set_production(self, model_id: str, version_id: str) -> None:
        """Point the model's production at a version, as another team member might."""
        self.service.set_production(model_id, version_id)


def _plan(value: FaultPlan | str | Path | None) -> FaultPlan:
    if value is None:
        return FaultPlan()
    if isinstance(value, FaultPlan):
        return value
    return FaultPlan.from_yaml(value)

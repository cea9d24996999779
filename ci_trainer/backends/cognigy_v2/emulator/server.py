"""`V2Emulator`: the Cognigy.AI REST API v2.0 personality on a loopback port.

    with V2Emulator() as emu:
        project = emu.service.add_project("shop", [(locale_id, "en-US")])
        flow = emu.service.add_flow(project.id, "Main")
        emu.service.set_intents(flow.id, locale_id, load_dataset("intents.json"))
        client = CognigyV2Client(emu.base_url, emu.api_key, redactor=Redactor())

It reuses the v1 emulator's classifier (`ci_trainer.emulator.training`) by import; what
it adds is v2's resources, Tasks, Intent Analyzer reports and snapshots.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_trainer.backends.cognigy_v2.emulator.app import V2App, V2Variants
from ci_trainer.backends.cognigy_v2.emulator.oauth import DEFAULT_TOKEN_SECONDS, TokenIssuer
from ci_trainer.backends.cognigy_v2.emulator.service import V2Service
from ci_trainer.datasets import load_dataset
from ci_trainer.emulator.serving import ServedApp
from ci_trainer.emulator.tls import TlsFiles

if TYPE_CHECKING:
    from ci_trainer.config import LoadedConfig

logger = logging.getLogger("ci_trainer.backends.cognigy_v2.emulator")


@dataclass(frozen=True)
class TargetSeed:
    """A flow to create, with its locales and the intents file the tenant starts with."""

    flow_id: str
    locale_ids: Sequence[str]
    intents_file: Path | None = None
    flow_name: str | None = None


class V2Emulator(ServedApp):
    """A context manager serving the v2 API on a free loopback port.

    Its base URL is the host root: the client adds `/new/v2.0` as for a real installation.
    """

    _thread_name = "ci-trainer-emulator-v2"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        client_id: str = "ci-trainer-emulator",
        client_secret: str | None = None,
        token_seconds: float = DEFAULT_TOKEN_SECONDS,
        variants: V2Variants | None = None,
        task_seconds: float = 0.0,
        epochs: int = 20,
        workers: int = 2,
        rate_limit: tuple[int, float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.api_key = api_key or secrets.token_urlsafe(24)
        # Either credential works, as on a tenant: the key above, or this OAuth2 client.
        self.tokens = TokenIssuer(
            client_id, client_secret or secrets.token_urlsafe(24), token_seconds=token_seconds
        )
        shapes = variants or V2Variants()
        self.service = V2Service(
            task_seconds=task_seconds,
            epochs=epochs,
            workers=workers,
            delete_at_once=shapes.snapshot_delete_at_once,
            upload_list_lag=shapes.upload_list_lag,
        )
        self.app: V2App = V2App(self.service, self.api_key, variants, rate_limit, self.tokens)
        super().__init__(host, port, tls=tls)

    @property
    def client_id(self) -> str:
        return self.tokens.client_id

    @property
    def client_secret(self) -> str:
        return self.tokens.client_secret

    def __repr__(self) -> str:  # never the key
        return f"V2Emulator(base_url={self.base_url!r})"

    @classmethod
    def from_config(cls, config_path: str | Path, **kwargs: Any) -> V2Emulator:
        """An emulator holding what a `backend: cognigy-v2` config names: its project with
        the target flows and locales (the intents files loaded as the tenant's data) and an
        empty promotion target project. Not started.

        Raises `ConfigError` / `DatasetError` for a config or intents file that cannot be
        read, ValueError for a config without a `cognigy_v2` section.
        """
        from ci_trainer.config import load_config

        return cls.from_loaded(load_config(config_path), **kwargs)

    @classmethod
    def from_loaded(cls, loaded: LoadedConfig, **kwargs: Any) -> V2Emulator:
        section = loaded.config.cognigy_v2
        if section is None:
            msg = f"{loaded.path} has no cognigy_v2 section"
            raise ValueError(msg)
        paths = {ref.id: ref.path for ref in loaded.config.datasets}
        emulator = cls(**kwargs)
        seeds = [
            TargetSeed(
                flow_id=target.flow_id,
                locale_ids=target.locales,
                intents_file=loaded.resolve(path) if (path := paths.get(target.dataset)) else None,
            )
            for target in section.targets
        ]
        extra = [section.promotion.target_project_id] if section.promotion.target_project_id else []
        emulator.seed(section.project_id, seeds, extra_projects=extra)
        if section.promotion.endpoint_id:
            emulator.seed_endpoint(
                section.promotion.target_project_id or section.project_id,
                section.promotion.endpoint_id,
                flow_id=section.targets[0].flow_id,
                locale_id=section.targets[0].locales[0],
            )
        return emulator

    def seed_endpoint(
        self,
        project_id: str,
        endpoint_id: str,
        *,
        flow_id: str,
        locale_id: str,
        name: str = "ci-trainer endpoint",
    ) -> None:
        """An endpoint in `project_id` serving the seeded flow `flow_id` in `locale_id`
        (by referenceId, as if an earlier promotion had put them there)."""
        _, flow, locale = self.service.flow_locale(flow_id, locale_id)
        self.service.add_endpoint(
            project_id,
            name,
            endpoint_id=endpoint_id,
            flow_ref=flow.reference_id,
            locale_ref=locale.reference_id,
        )

    def set_intent_threshold(self, flow_id: str, lower: float, upper: float) -> None:
        """The flow settings' `intentThreshold` (tests: the cut-off the bot maps by)."""
        with self.service.lock:
            _, flow = self.service.flow(flow_id)
            flow.intent_threshold = {"lower": lower, "upper": upper}

    def set_parent_intent(self, flow_id: str, child: str, parent: str) -> None:
        """Make the intent `child` a child of `parent` in the flow's hierarchy."""
        with self.service.lock:
            _, flow = self.service.flow(flow_id)
            if child not in flow.intents or parent not in flow.intents:
                msg = f"the flow has no intent {child!r} or {parent!r}"
                raise ValueError(msg)
            flow.intents[child].parent = parent

    def seed(
        self,
        project_id: str,
        targets: Sequence[TargetSeed],
        *,
        project_name: str = "ci-trainer project",
        extra_projects: Sequence[str] = (),
    ) -> None:
        """Create the project, its locales and flows, and load each target's intents file.

        `extra_projects` (e.g. a promotion target) start empty with the same locales.
        """
        locale_ids: list[str] = []
        for target in targets:
            locale_ids += [lid for lid in target.locale_ids if lid not in locale_ids]
        locales = [(lid, f"locale-{i + 1}") for i, lid in enumerate(locale_ids)]
        self.service.add_project(project_name, locales, project_id=project_id)
        for extra in extra_projects:
            self.service.add_project(f"{project_name} (target)", locales, project_id=extra)
        flows: set[str] = set()
        for target in targets:
            if target.flow_id not in flows:
                name = target.flow_name or f"flow-{len(flows) + 1}"
                self.service.add_flow(project_id, name, flow_id=target.flow_id)
                flows.add(target.flow_id)
            if target.intents_file is not None:
                dataset = load_dataset(target.intents_file)
                for locale_id in target.locale_ids:
                    self.service.set_intents(target.flow_id, locale_id, dataset)

    def _close_service(self) -> None:
        self.service.close()

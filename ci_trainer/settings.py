"""Run settings, resolved once from the command line and the environment.

Env names are fixed by DESIGN.md (the same as the seed tutorial's). The action maps its
inputs onto these names before calling `Settings.from_env`, so CLI and action share one
path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci_trainer.result import Mode, Provenance


@dataclass(frozen=True)
class Settings:
    config_path: Path
    mode: Mode = Mode.TRAIN
    emulator: bool = False
    output_dir: Path | None = None
    audit_log: Path | None = None
    tenant: str | None = None
    base_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    model_id: str | None = None
    # Cognigy.AI REST API v2.0 (backend cognigy-v2): COGNIGY_API_KEY.
    api_key: str | None = field(default=None, repr=False)
    provenance: Provenance = field(default_factory=Provenance)
    # The whole environment, for names the config chooses (webhook url_env/secret_env).
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        config_path: str | Path = "training-config.yaml",
        mode: Mode | str = Mode.TRAIN,
        emulator: bool = False,
        output_dir: str | Path | None = None,
        audit_log: str | Path | None = None,
    ) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(
            config_path=Path(config_path),
            mode=parse_mode(mode),
            emulator=emulator,
            output_dir=Path(output_dir) if output_dir else None,
            audit_log=Path(audit_log) if audit_log else None,
            tenant=get("COGNIGY_TENANT"),
            base_url=get("COGNIGY_BASE_URL"),
            client_id=get("COGNIGY_CLIENT_ID"),
            client_secret=get("COGNIGY_CLIENT_SECRET"),
            model_id=get("COGNIGY_MODEL_ID"),
            api_key=get("COGNIGY_API_KEY"),
            provenance=provenance_from_env(env),
            env=dict(env),
        )


def parse_mode(value: Mode | str) -> Mode:
    """The run mode; an unknown word is a ValueError that names the allowed ones."""
    try:
        return Mode(value.strip().lower() if isinstance(value, str) else value)
    except ValueError:
        allowed = ", ".join(mode.value for mode in Mode)
        msg = f"mode must be one of {allowed} (got {value!r})"
        raise ValueError(msg) from None


def provenance_from_env(env: Mapping[str, str]) -> Provenance:
    def get(name: str) -> str | None:
        return env.get(name) or None

    return Provenance(
        repository=get("GITHUB_REPOSITORY"),
        commit=get("GITHUB_SHA"),
        ref=get("GITHUB_REF"),
        event=get("GITHUB_EVENT_NAME"),
        actor=get("GITHUB_ACTOR"),
        workflow=get("GITHUB_WORKFLOW"),
        run_id=get("GITHUB_RUN_ID"),
        run_attempt=get("GITHUB_RUN_ATTEMPT"),
        server_url=get("GITHUB_SERVER_URL"),
    )

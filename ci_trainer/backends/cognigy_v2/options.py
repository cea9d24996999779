"""What a v2 run trains and promotes: its flow x locale targets and options, read from
the config's `cognigy_v2` section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ci_trainer.config.cognigy_v2 import CognigyV2Section
from ci_trainer.config.messages import issue_at
from ci_trainer.config.yamltree import FieldPath
from ci_trainer.errors import ConfigError

if TYPE_CHECKING:
    from ci_trainer.config import LoadedConfig
    from ci_trainer.result import Provenance

# The id of the Target that fans out over every flow x locale (when there are several).
COMBINED_TARGET_ID = "all-targets"


@dataclass(frozen=True)
class V2Target:
    """One flow x locale and the committed intents file that is its source of truth."""

    flow_id: str
    locale_id: str
    intents_file: Path | None = None
    dataset_id: str | None = None  # the `datasets` entry the intents file is

    @property
    def id(self) -> str:
        return f"{self.flow_id}/{self.locale_id}"


@dataclass(frozen=True)
class V2Options:
    project_id: str
    targets: tuple[V2Target, ...]
    import_mode: str | None = "overwrite"  # None: train on what the tenant holds
    train_mode: str = "full"
    max_parallel: int = 2
    holdout_target: int = 0  # index into `targets` the holdout set belongs to
    # A holdout top score below the flow's intent threshold counts as no intent (C11).
    apply_intent_threshold: bool = True
    snapshot_name: str = "ci-trainer"
    snapshot_prefix: str = "ci-trainer-"  # only snapshots named so may be evicted
    target_project_id: str | None = None
    restore: bool = True
    delete_oldest_snapshot: bool = False
    endpoint_id: str | None = None  # re-pointed at the promoted snapshot when set
    task_poll_seconds: float = 2.0
    task_timeout_seconds: float = 900.0
    # Where the intents exports are kept (a run's files); None keeps them in memory only.
    artifact_dir: Path | None = None


def run_label(provenance: Provenance, now: datetime | None = None) -> str:
    """The snapshot name's run part: commit and CI run when known, else the UTC time."""
    if provenance.commit and provenance.run_id:
        return f"{provenance.commit[:8]}-{provenance.run_id}-{provenance.run_attempt or '1'}"
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")


def options_from_config(
    loaded: LoadedConfig, run_label: str, artifact_dir: Path | None = None
) -> V2Options:
    """The backend options for a loaded config with a `cognigy_v2` section.

    Each target's `dataset` names a `datasets` entry; its path is the intents file.
    Raises `ConfigError` (located in the file) for a config the backend cannot use.
    """
    config = loaded.config
    section = v2_section(loaded)
    paths = {ref.id: ref.path for ref in config.datasets}
    targets = tuple(
        V2Target(
            flow_id=target.flow_id,
            locale_id=locale,
            intents_file=loaded.resolve(path) if (path := paths.get(target.dataset)) else None,
            dataset_id=target.dataset,
        )
        for target in section.targets
        for locale in target.locales
    )
    promotion = section.promotion
    return V2Options(
        project_id=section.project_id,
        targets=targets,
        import_mode=None if section.import_mode == "none" else section.import_mode,
        max_parallel=section.max_parallel,
        holdout_target=section.holdout_target,
        apply_intent_threshold=section.apply_intent_threshold,
        snapshot_name=f"{promotion.snapshot_prefix}{run_label}"[:60],
        snapshot_prefix=promotion.snapshot_prefix,
        target_project_id=promotion.target_project_id,
        restore=promotion.restore,
        delete_oldest_snapshot=promotion.delete_oldest_snapshot,
        endpoint_id=promotion.endpoint_id,
        # Import and snapshot Tasks are short: poll them at the configured floor, but at
        # least every 2 s (the pace of Cognigy's own CLI).
        task_poll_seconds=min(config.training.poll_interval_floor_seconds, 2.0),
        task_timeout_seconds=section.task_timeout_minutes * 60.0,
        artifact_dir=artifact_dir,
    )


def v2_section(loaded: LoadedConfig) -> CognigyV2Section:
    """The config's `cognigy_v2` section; a located `ConfigError` when it has none (the
    config model refuses that for `backend: cognigy-v2`, but a config built in code may not
    have passed through it)."""
    section = loaded.config.cognigy_v2
    if section is None:
        raise config_error(
            loaded,
            ("backend",),
            "backend cognigy-v2 needs a `cognigy_v2` section (base_url, project_id, targets)",
            "add the section, or choose another backend",
        )
    return section


def config_error(loaded: LoadedConfig, path: FieldPath, message: str, hint: str) -> ConfigError:
    """A mistake in the loaded config found while building the backend, at its line."""
    return ConfigError([issue_at(str(loaded.path), loaded.marks, path, message, hint)])

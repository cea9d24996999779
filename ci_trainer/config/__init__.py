"""The training config: YAML file -> typed, validated `TrainingConfig`."""

from ci_trainer.config.loader import (
    MAX_CONFIG_BYTES,
    SUPPORTED_VERSION,
    LoadedConfig,
    load_config,
    parse_config,
)
from ci_trainer.config.model import (
    AuditSection,
    ChampionGate,
    DatasetRef,
    GateSection,
    Hyperparameters,
    TrainingConfig,
    TrainingSection,
    ValidationSection,
)

__all__ = [
    "MAX_CONFIG_BYTES",
    "SUPPORTED_VERSION",
    "AuditSection",
    "ChampionGate",
    "DatasetRef",
    "GateSection",
    "Hyperparameters",
    "LoadedConfig",
    "TrainingConfig",
    "TrainingSection",
    "ValidationSection",
    "load_config",
    "parse_config",
]

"""The training config: YAML file -> typed, validated `TrainingConfig`."""

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
    "AuditSection",
    "ChampionGate",
    "DatasetRef",
    "GateSection",
    "Hyperparameters",
    "TrainingConfig",
    "TrainingSection",
    "ValidationSection",
]

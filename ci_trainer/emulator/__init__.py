"""The embedded emulator of the training service (usage and fault plan: docs/emulator.md).

Importing this package is cheap: scikit-learn is imported by the training worker only,
when the first training starts.
"""

from ci_trainer.emulator.faults import Fault, FaultPlan, FaultPlanError
from ci_trainer.emulator.ratelimit import RateLimit
from ci_trainer.emulator.server import Emulator
from ci_trainer.emulator.state import EmulatorState, RequestRecord, TrainingView, VersionView

__all__ = [
    "Emulator",
    "EmulatorState",
    "Fault",
    "FaultPlan",
    "FaultPlanError",
    "RateLimit",
    "RequestRecord",
    "TrainingView",
    "VersionView",
]

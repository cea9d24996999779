"""The embedded emulator of the training service (see docs/emulator.md).

Importing this package is cheap: scikit-learn is imported by the training worker only.
"""

from ci_trainer.emulator.faults import Fault, FaultPlan, FaultPlanError

__all__ = ["Fault", "FaultPlan", "FaultPlanError"]

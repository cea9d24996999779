"""The Cognigy.AI REST API v2.0 personality of the emulator (docs/cognigy-v2.md).

Built from the contract notes, not from a live tenant. It shares the v1 emulator's
classifier; scikit-learn is imported when the first training starts.
"""

from ci_trainer.emulator.v2.app import RequestLog, V2App, V2Variants
from ci_trainer.emulator.v2.server import TargetSeed, V2Emulator
from ci_trainer.emulator.v2.service import V2Problem, V2Service

__all__ = [
    "RequestLog",
    "TargetSeed",
    "V2App",
    "V2Emulator",
    "V2Problem",
    "V2Service",
    "V2Variants",
]

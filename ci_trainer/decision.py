"""The decisions a run can end in, and the exit code of each (DESIGN's one table).

Kept apart from `result` (pydantic) so that `errors`, which every part of the tool
imports, costs nothing to import: the start-up path sends its first request before
pydantic is loaded.
"""

from __future__ import annotations

import enum


class Decision(str, enum.Enum):
    VALIDATED = "validated"
    APPROVED = "approved"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    INVALID = "invalid"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


EXIT_CODES: dict[Decision, int] = {
    Decision.VALIDATED: 0,
    Decision.APPROVED: 0,
    Decision.PROMOTED: 0,
    Decision.SKIPPED: 0,
    Decision.REJECTED: 1,
    Decision.INVALID: 2,
    Decision.FAILED: 3,
}

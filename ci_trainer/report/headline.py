"""The summary's headline: the decision, the one reason that matters, and the run's facts."""

from __future__ import annotations

from ci_trainer.decision import Decision
from ci_trainer.report.markdown import escape, fmt_duration
from ci_trainer.result import RunResult

# The icon and word of each decision; the `summary` output uses the word too.
DECISION_HEADINGS: dict[Decision, tuple[str, str]] = {
    Decision.VALIDATED: ("✅", "Validated"),
    Decision.APPROVED: ("✅", "Approved"),
    Decision.PROMOTED: ("🚀", "Promoted"),
    Decision.REJECTED: ("❌", "Rejected"),
    Decision.INVALID: ("⚠️", "Invalid"),
    Decision.FAILED: ("💥", "Failed"),
    Decision.SKIPPED: ("⏭️", "Skipped"),
}
# A rejection only because the holdout cannot rule out a loss beyond the margin: the
# candidate is held back, not shown to be worse (the `verdict` output is `inconclusive`).
HELD_HEADING = ("⏸️", "Held")


def heading(result: RunResult) -> tuple[str, str]:
    """The icon and word for this run's decision."""
    if result.decision is Decision.REJECTED and result.held:
        return HELD_HEADING
    return DECISION_HEADINGS[result.decision]


def render_headline(result: RunResult) -> str:
    """The decision as a heading, the reason in bold, and a small line of the run's facts."""
    icon, label = heading(result)
    model = f" · model {escape(result.model_id)}" if result.model_id else ""
    facts = [
        f"mode {escape(result.mode.value)}",
        f"backend {escape(result.backend)}",
        f"took {fmt_duration(result.duration_seconds)}",
    ]
    if result.decision is Decision.APPROVED and not result.promotion.attempted:
        facts.append("not promoted in this mode")
    return (
        f"## {icon} {label}{model}\n\n"
        f"**{escape(result.reason).strip() or 'No reason was recorded.'}**\n\n"
        f"<sub>ci-trainer {escape(result.tool_version)} · {' · '.join(facts)}</sub>"
    )

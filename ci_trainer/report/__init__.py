"""RunResult -> the step summary (GitHub-flavoured Markdown), the action's outputs and
the JUnit XML report.

Both are pure functions of the RunResult: they format figures, they never compute one
the RunResult does not hold (a pass/fail comes from the gate's own rules, not from
comparing numbers here). The one exception is the candidate-minus-production delta, a
display of two figures that are both in the RunResult.

Every string that came from a config file or a server is escaped before it enters the
Markdown, so a crafted intent name, dataset id or server message cannot break a table,
inject HTML, or start a workflow command.
"""

from ci_trainer.report.junit import render_junit
from ci_trainer.report.markdown import escape
from ci_trainer.report.outputs import build_outputs, summary_line
from ci_trainer.report.summary import SUMMARY_LIMIT_BYTES, render_summary

__all__ = [
    "SUMMARY_LIMIT_BYTES",
    "build_outputs",
    "escape",
    "render_junit",
    "render_summary",
    "summary_line",
]

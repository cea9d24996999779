"""The sticky pull request comment's Markdown: a RunResult's headline, verdict and key
figures, and a link to the run whose step summary holds the rest.

Like the summary (`ci_trainer.report`), a pure function of the RunResult: it formats the
figures the result holds and never computes one. Everything from the config, the service
or the repository is escaped (`report.escape`: no HTML, no links, no @mention) and cut to
a bound, so the comment stays far under GitHub's 65,536-character limit whatever a
service or a pull request puts in it.

The first line is a hidden marker naming the config: it is how the next run finds this
comment to update it, and why two configs in one repository keep two comments.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

from ci_trainer.backend_types import EvalMetrics
from ci_trainer.data_diff_types import DataDiff, FileDiff
from ci_trainer.report.data_diff import MINUS
from ci_trainer.report.headline import heading
from ci_trainer.report.markdown import escape, fmt, fmt_signed, table
from ci_trainer.report.outputs import verdict
from ci_trainer.result import Provenance, RunResult

GITHUB_COMMENT_LIMIT = 65_536  # characters, GitHub's limit for an issue comment
# Ours stays well under it; the bounds below keep a comment to a few thousand characters.
MAX_BODY_CHARS = 60_000
MAX_REASON_CHARS = 1_000
MAX_NAME_CHARS = 200
MAX_NOTE_CHARS = 500
MAX_MARKER_PATH_CHARS = 300
MARKER_PREFIX = "<!-- ci-trainer pr-comment config="
_MARKER_SAFE = "/._-~+@"
_DIGITS = re.compile(r"[0-9]{1,20}")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_SERVER = re.compile(r"https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")

_VERDICTS = {
    "better": "better than production",
    "worse": "worse than production",
    "no-significant-change": "no significant change from production",
    "inconclusive": "inconclusive: a loss beyond the margin is not ruled out",
}


def marker(config: str) -> str:
    """The hidden first line that makes the comment this config's.

    The path is percent-encoded, so no path can close the HTML comment (`-->`) or break
    the line; a very long one is named by its SHA-256 instead."""
    encoded = quote(config, safe=_MARKER_SAFE)
    if len(encoded) > MAX_MARKER_PATH_CHARS:
        encoded = "sha256:" + hashlib.sha256(config.encode("utf-8")).hexdigest()
    return f"{MARKER_PREFIX}{encoded} -->"


def is_ours(body: str, config_marker: str) -> bool:
    """Whether a comment is this config's: its first line is the marker, exactly (a
    reply that quotes our comment starts with `>`, one about another config differs)."""
    return body.split("\n", 1)[0].rstrip("\r") == config_marker


def run_url(provenance: Provenance) -> str | None:
    """The run's page, where its step summary is: SERVER/OWNER/REPO/actions/runs/ID
    [/attempts/N]; None when the run's facts are missing or not what GitHub sends."""
    server = (provenance.server_url or "https://github.com").rstrip("/")
    repository, run_id = provenance.repository or "", provenance.run_id or ""
    if not (
        _SERVER.fullmatch(server)
        and _REPOSITORY.fullmatch(repository)
        and _DIGITS.fullmatch(run_id)
    ):
        return None
    url = f"{server}/{repository}/actions/runs/{run_id}"
    attempt = provenance.run_attempt or ""
    return f"{url}/attempts/{attempt}" if _DIGITS.fullmatch(attempt) else url


def data_diff_line(result: RunResult) -> str | None:
    """The data diff's one line: what the pull request changes in the datasets and
    whether the holdout moved ("Data vs main (abc1234): 3 intents changed, +46 \u22122
    examples, 1 moved; holdout unchanged"), or why there is no diff; None when no base
    was asked for. The figures are the diff's counts, summed over the datasets."""
    diff = result.data_diff
    if diff is None:
        return None
    ref = escape(_cut(diff.base_ref, MAX_NAME_CHARS))
    if diff.unavailable is not None:
        why = escape(_cut(diff.unavailable, MAX_NOTE_CHARS))
        hint = f" To get it: {escape(_cut(diff.hint, MAX_NOTE_CHARS))}." if diff.hint else ""
        return f"**Data vs {ref}:** not compared ({why}).{hint}"
    commit = diff.base_commit or ""
    at = f" ({commit[:7]})" if _COMMIT.fullmatch(commit) else ""
    return f"**Data vs {ref}{at}:** {_datasets_change(diff.datasets)}; {_holdout_change(diff)}."


def _datasets_change(files: list[FileDiff]) -> str:
    if not any(file.differs for file in files):
        return "datasets unchanged"
    intents = sum(file.changed_intents_count for file in files)
    added = sum(file.examples_added_count for file in files)
    removed = sum(file.examples_removed_count for file in files)
    moved = sum(file.examples_moved_count for file in files)
    return (
        f"{intents} intent{'' if intents == 1 else 's'} changed, "
        f"+{added} {MINUS}{removed} examples, {moved} moved"
    )


def _holdout_change(diff: DataDiff) -> str:
    holdout = diff.holdout
    if holdout is None:
        return "no holdout"
    if not holdout.differs:
        return "holdout unchanged"
    return (
        f"holdout changed ({holdout.changed_intents_count} intents, "
        f"+{holdout.examples_added_count} {MINUS}{holdout.examples_removed_count} examples, "
        f"{holdout.examples_moved_count} moved)"
    )


def render_comment(result: RunResult, *, config: str, link: str | None) -> str:
    """The comment's Markdown, marker first, under MAX_BODY_CHARS."""
    parts = [marker(config), _headline(result), _figures(result), _holdout(result)]
    parts.append(data_diff_line(result))
    parts.append(_link(result, link))
    parts.append(_footer(result, config))
    body = "\n\n".join(part for part in parts if part) + "\n"
    return _fit(body)


def _headline(result: RunResult) -> str:
    icon, label = heading(result)
    model = f" · model {escape(_cut(result.model_id, MAX_NAME_CHARS))}" if result.model_id else ""
    reason = escape(_cut(result.reason, MAX_REASON_CHARS)).strip() or "No reason was recorded."
    return f"### {icon} ci-trainer: {label}{model}\n\n**{reason}**"


def _figures(result: RunResult) -> str | None:
    candidate = result.metrics
    production = result.production.metrics if result.production else None
    if candidate is None and production is None:
        return None
    rows = [
        [label, _figure(candidate, name), _figure(production, name)]
        for label, name in (("F1", "f1"), ("Precision", "precision"), ("Recall", "recall"))
    ]
    shown = table(["", "Candidate", "Production"], rows)
    return shown + "\n\nn/a: not reported by the service." if "n/a" in shown else shown


def _figure(metrics: EvalMetrics | None, name: str) -> str:
    if metrics is None:
        return "—"
    value = getattr(metrics, name)
    return fmt(float(value)) if isinstance(value, (int, float)) else "n/a"


def _holdout(result: RunResult) -> str | None:
    champion = result.champion
    if champion is None and result.metrics is None and not result.champion_note:
        return None  # nothing was trained to compare
    if champion is None:
        note = _cut(result.champion_note, MAX_NOTE_CHARS) if result.champion_note else None
        return "**Holdout:** not compared with production" + (
            f" ({escape(note)})." if note else "."
        )
    # The `verdict` output's word when the run has one, else the comparison's own.
    said = _VERDICTS.get(verdict(result)) or escape(_cut(champion.verdict, MAX_NAME_CHARS))
    interval = (
        f"{round(champion.confidence * 100):d}% interval "
        f"{fmt_signed(champion.ci_low)} to {fmt_signed(champion.ci_high)}"
    )
    return (
        f"**Holdout:** {said}: macro-F1 difference "
        f"{fmt_signed(champion.diff_macro_f1)} ({interval}, n = {champion.n})."
    )


def _link(result: RunResult, link: str | None) -> str:
    if link is None:
        return "The full report is in this run's step summary."
    run = result.provenance.run_id or ""
    attempt = result.provenance.run_attempt
    named = f"run {run}" + (f", attempt {attempt}" if attempt and attempt != "1" else "")
    return f"[Full report: the step summary of {escape(named)}]({link})"


def _footer(result: RunResult, config: str) -> str:
    facts = [
        f"ci-trainer {escape(_cut(result.tool_version, 40))}",
        f"config {escape(_cut(config, MAX_NAME_CHARS))}",
        f"mode {escape(result.mode.value)}",
    ]
    commit = result.provenance.commit or ""
    if re.fullmatch(r"[0-9a-f]{7,64}", commit):
        facts.append(f"commit {commit[:12]}")
    facts.append("updated on every run")
    return f"<sub>{' · '.join(facts)}</sub>"


def _cut(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(body: str) -> str:
    """A last bound: the parts are each bounded, so this only guards a bug."""
    if len(body) <= MAX_BODY_CHARS:
        return body
    return body[: MAX_BODY_CHARS - 40] + "\n\n(comment cut to fit GitHub's limit)\n"

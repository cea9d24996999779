"""Where the run came from and what it left: the Run table (links only in GitHub's own
shapes) and the collapsed details."""

from __future__ import annotations

import json
import re

from ci_trainer.report.markdown import escape, fenced, fmt, fmt_duration, table
from ci_trainer.report.metrics import intent_rows
from ci_trainer.result import RunResult

_SERVER_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]+)?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_RUN_ID = re.compile(r"[0-9]+")


def _repository_url(result: RunResult) -> str | None:
    """The repository's web address, only when every part has the shape GitHub gives it
    (they come from the runner's GITHUB_* variables, but a link must never carry data)."""
    p = result.provenance
    if not (p.server_url and p.repository):
        return None
    if not (_SERVER_URL.fullmatch(p.server_url) and _REPOSITORY.fullmatch(p.repository)):
        return None
    return f"{p.server_url}/{p.repository}"


def _commit_cell(result: RunResult) -> str:
    commit = result.provenance.commit
    if not commit:
        return "n/a"
    base = _repository_url(result)
    if base and _COMMIT.fullmatch(commit):
        return f"[{commit[:12]}]({base}/commit/{commit})"
    return escape(commit[:12])


def _run_cell(result: RunResult) -> str:
    p = result.provenance
    base = _repository_url(result)
    if base and p.run_id and _RUN_ID.fullmatch(p.run_id):
        attempt = p.run_attempt if p.run_attempt and _RUN_ID.fullmatch(p.run_attempt) else "1"
        link = f"[workflow run {p.run_id}, attempt {attempt}]({base}/actions/runs/{p.run_id})"
        return f"{link} · {escape(result.run_uuid)}"
    return escape(result.run_uuid)


def run_section(result: RunResult) -> str:
    p = result.provenance
    promotion = result.promotion
    if promotion.promoted:
        promoted = f"yes, to {escape(promotion.environment or 'production')}"
    elif promotion.attempted:
        promoted = f"no: {escape(promotion.message or 'see the log')}"
    else:
        promoted = "not attempted"
    webhook = result.webhook
    if not webhook.attempted:
        sync = "not configured"
    elif webhook.delivered:
        sync = (
            f"delivered (HTTP {fmt(webhook.status_code)}, event {escape(webhook.event_id or '')})"
        )
    else:
        sync = f"not delivered: {escape(webhook.error or 'no answer')}"
    rows = [
        ["Training id", escape(result.training_id or "n/a")],
        ["Version id", escape(result.version_id or "n/a")],
        ["Service status", escape(result.status or "n/a")],
        [
            "Duration",
            f"{fmt_duration(result.duration_seconds)} "
            f"(training {fmt_duration(result.training_seconds)})",
        ],
        ["Config", escape(result.config_path or "n/a")],
        ["Config sha256", escape(result.config_sha256 or "n/a")],
        ["Commit", _commit_cell(result)],
        ["Ref", escape(p.ref or "n/a")],
        ["Triggered by", _trigger_cell(p.actor, p.event)],
        ["Promoted", promoted],
        ["Registry webhook", sync],
        [
            "Audit log",
            escape(result.audit_log or "not written")
            + (f" (record hash {escape(result.audit_hash[:16])})" if result.audit_hash else ""),
        ],
        ["Run", _run_cell(result)],
    ]
    if result.audit_error:
        rows.append(["Audit problem", escape(result.audit_error)])
    return "### Run\n\n" + table(["", ""], rows)


def details_section(result: RunResult) -> str | None:
    parts = []
    if result.datasets:
        rows = [
            [
                escape(d.id),
                escape(d.path or "n/a"),
                fmt(d.example_count),
                fmt(d.intent_count),
                fmt(d.service_example_count),
                fmt(d.average_annotation_score),
                escape((d.sha256 or "n/a")[:12]),
            ]
            for d in result.datasets
        ]
        headers = [
            "Dataset",
            "File",
            "Examples",
            "Intents",
            "Service examples",
            "Avg score",
            "sha256",
        ]
        parts.append("**Datasets**\n\n" + table(headers, rows))
    if result.attempts:
        rows = [
            [
                str(a.attempt),
                escape(a.training_id),
                fmt(a.batch_size),
                escape(a.status),
                str(a.status_requests),
                escape(a.message or ""),
            ]
            for a in result.attempts
        ]
        headers = ["Attempt", "Training id", "Batch size", "Status", "Status requests", "Message"]
        parts.append("**Training attempts**\n\n" + table(headers, rows))
    usage = result.resources
    if usage.samples:
        parts.append(
            f"**Service resources** ({usage.samples} sample{'s' if usage.samples != 1 else ''}): "
            "peak CPU "
            f"{fmt(usage.peak_cpu_percent, 1)} %, peak memory "
            f"{fmt(usage.peak_memory_percent, 1)} %."
        )
    if result.promotion.steps:
        rows = [
            [escape(s.name), escape(s.status), escape(s.id or ""), escape(s.detail or "")]
            for s in result.promotion.steps
        ]
        parts.append("**Promotion steps**\n\n" + table(["Step", "Status", "Id", "Detail"], rows))
    if result.thresholds:
        thresholds = json.dumps(result.thresholds, indent=2, sort_keys=True, default=str)
        parts.append("**Thresholds**\n\n" + fenced(thresholds, "json"))
    if result.metrics and result.metrics.per_intent:
        headers = ["Intent", "F1", "Precision", "Recall", "Support"]
        parts.append("**All intents**\n\n" + table(headers, intent_rows(result.metrics.per_intent)))
    if not parts:
        return None
    body = "\n\n".join(parts)
    return f"<details>\n<summary>Everything else</summary>\n\n{body}\n\n</details>"


def _trigger_cell(actor: str | None, event: str | None) -> str:
    """Who started the run and how, as far as the CI said (GITHUB_ACTOR, GITHUB_EVENT_NAME)."""
    if not actor and not event:
        return "not recorded (no CI actor or event in the environment)"
    if not event:
        return escape(actor or "")
    return escape(f"{actor} ({event})" if actor else f"a {event} event")

"""The sections that say what went wrong: problems and notes, and what a ticket needs."""

from __future__ import annotations

import json

from ci_trainer.report.markdown import escape, fenced, fmt, table
from ci_trainer.result import RunResult

_LEVEL_ICONS = {"error": "❌ error", "warning": "⚠️ warning", "notice": "💬 notice"}


def messages_section(result: RunResult) -> str | None:
    if not result.messages and not result.error:
        return None
    rows = []
    for message in result.messages:
        where = message.file or ""
        if message.file and message.line is not None:
            where += f":{message.line}"
            if message.column is not None:
                where += f":{message.column}"
        text = f"{message.title}: {message.text}" if message.title else message.text
        rows.append(
            [_LEVEL_ICONS.get(message.level, escape(message.level)), escape(where), escape(text)]
        )
    parts = ["### Problems and notes"]
    if result.error and not any(m.level == "error" for m in result.messages):
        parts.append(f"**{escape(result.error.type)}:** {escape(result.error.message)}")
    if rows:
        parts.append(table(["Level", "Where", "Message"], rows))
    return "\n\n".join(parts)


def troubleshooting_section(result: RunResult) -> str | None:
    support = result.support
    if support is None:
        return None
    rows = [
        ["Endpoint", escape(support.endpoint)],
        ["HTTP status", fmt(support.status)],
        ["Trace id", escape(support.trace_id) if support.trace_id else "n/a"],
        ["Datasets", escape(", ".join(support.dataset_ids)) or "n/a"],
    ]
    parts = [
        "### Troubleshooting",
        "The training service failed and the run stopped after its retries. A support "
        "ticket needs what follows (secrets already removed); the trace id lets the "
        "service's operators find the request.",
        table(["Field", "Value"], rows),
    ]
    if support.request_payload is not None:
        payload = json.dumps(support.request_payload, indent=2, sort_keys=True, default=str)
        parts += ["Request payload:", fenced(payload, "json")]
    if support.response_body:
        parts += ["Response body (trimmed):", fenced(support.response_body)]
    return "\n\n".join(parts)

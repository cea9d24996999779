"""Text the service wrote, bounded where it enters: one length for every copy of it.

A message, title, detail, trace id or body the service sends is copied into the reason,
the messages, the error, the audit record, the outputs, the console and the webhook
event. It is trimmed once, here, when it is read off the answer, so every one of those
copies stays small whatever the service sends, and each says how much was left off.
"""

from __future__ import annotations

from ci_trainer.redact import Redactor

SERVICE_TEXT_LIMIT = 2000  # characters kept of one piece of service text
# Characters redacted before trimming: a secret that starts inside the kept part ends
# inside this window, so trimming can never cut one in two and show its first half.
_REDACT_WINDOW = 64 * 1024


def service_text(
    text: str,
    redactor: Redactor | None = None,
    limit: int = SERVICE_TEXT_LIMIT,
    *,
    cut_before: int = 0,
) -> str:
    """`text` redacted and at most `limit` characters, then a marker naming how many more
    there were: `... (N more characters)`. `cut_before` counts characters the caller
    already dropped from its end (they count in N)."""
    head = text[:_REDACT_WINDOW]
    rest = len(text) - len(head) + cut_before
    if redactor is not None:
        head = redactor(head)
    if len(head) <= limit and rest == 0:
        return head
    left_off = len(head) - limit + rest
    return f"{head[:limit]}... ({left_off} more characters)"


def optional_service_text(text: str | None, redactor: Redactor | None = None) -> str | None:
    """`service_text` for a field that may be absent (None or empty stays as it is)."""
    return service_text(text, redactor) if text else text

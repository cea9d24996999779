"""What a snapshot download needs beyond an API call: room for a large package and a
longer deadline, the download link's 409 while packaging finishes, and the GET of a link
on another host (a presigned storage URL), which never carries the credentials.
"""

from __future__ import annotations

import dataclasses

from ci_trainer.errors import ApiError
from ci_trainer.http.client import Call, HttpClient, HttpResponse
from ci_trainer.http.loopback import is_loopback
from ci_trainer.http.policy import RetryMode, RetryPolicy

MIN_SNAPSHOT_BYTES = 64  # smaller downloads are the known "csnap" placeholder
# Cognigy packages snapshots of up to 256 MB (C15): a download may weigh that, and take
# longer than an API call to arrive (about 2 MB/s over the whole deadline).
MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024 + 1024 * 1024
SNAPSHOT_DEADLINE_SECONDS = 900.0
DOWNLOAD_LINK_ATTEMPTS = 5  # 409 while packaging finishes (observed by pipelines)


def download_policy(base: RetryPolicy) -> RetryPolicy:
    """`base` with room for a whole snapshot: its size cap and its wall-clock deadline."""
    return dataclasses.replace(
        base,
        max_body_bytes=max(base.max_body_bytes, MAX_SNAPSHOT_BYTES),
        request_deadline=max(base.request_deadline, SNAPSHOT_DEADLINE_SECONDS),
    )


def packaging_policy(base: RetryPolicy) -> RetryPolicy:
    """`base` that also repeats a 409, which a download link answers while packaging
    finishes, on a fixed schedule (0.5, 1, 2, 4 s): the wait pipelines were seen to need,
    with no herd to spread out."""
    return dataclasses.replace(
        base,
        retry_statuses=base.retry_statuses | {409},
        max_attempts=DOWNLOAD_LINK_ATTEMPTS,
        backoff_base=0.5,
        backoff_cap=5.0,
        jitter=False,
    )


def fetch_elsewhere(
    http: HttpClient,
    scheme: str,
    hostname: str | None,
    path: str,
    operation: str = "downloadSnapshot",
) -> HttpResponse:
    """GET `path` with `http` (a client for the link's own origin, without credentials),
    then close it. Only https, or loopback (the emulator), is fetched. `operation` names
    the download (a snapshot's or an intents export's) in errors."""
    try:
        if scheme != "https" and not is_loopback(hostname or ""):
            msg = "the download link is not https"
            raise ApiError(call=operation, message_text=msg, hint_text="quote it to support")
        return http.send(Call(operation, "GET", path), retry=RetryMode.SAFE)
    finally:
        http.close()

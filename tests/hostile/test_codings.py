"""Compressed answers are still read right now that the HTTP layer inflates them itself
(within the size cap): gzip with several members, deflate with and without the zlib
header, the start of a body for the webhook; a coding we did not ask for, or gzip that is
not gzip, is a clear error rather than garbage handed to the JSON decoder."""

from __future__ import annotations

import pytest

from ci_trainer.errors import ApiError
from ci_trainer.http.body import BodyLimit
from ci_trainer.http.client import Call, HttpClient
from ci_trainer.http.policy import RetryMode, RetryPolicy
from ci_trainer.redact import Redactor
from hostile.server import PLAIN, HostileServer


def _client(server: HostileServer) -> HttpClient:
    policy = RetryPolicy(jitter=False, backoff_base=0.01, max_attempts=2)
    return HttpClient(server.url, redactor=Redactor([]), policy=policy)


@pytest.mark.parametrize("path", ["/gzip-ok", "/deflate-zlib", "/deflate-raw"])
def test_a_compressed_answer_is_decoded_whole(hostile: HostileServer, path: str) -> None:
    response = _client(hostile).send(Call("getTrainingStatus", "GET", path), retry=RetryMode.SAFE)
    assert response.content == PLAIN
    assert response.json()["status"] == "RUNNING"


def test_only_the_start_is_kept_when_that_is_all_the_caller_needs(hostile: HostileServer) -> None:
    response = _client(hostile).send(
        Call("webhook", "GET", "/gzip-ok"), retry=RetryMode.SAFE, body_limit=BodyLimit(100, True)
    )
    assert response.content == PLAIN[:100]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/brotli", "uses Content-Encoding 'br', which was not asked for"),
        ("/broken-gzip", "the gzip body is not valid compressed data"),
    ],
)
def test_an_unreadable_coding_is_a_clear_error_and_not_retried(
    hostile: HostileServer, path: str, why: str
) -> None:
    with pytest.raises(ApiError) as caught:
        _client(hostile).send(Call("getTrainingStatus", "GET", path), retry=RetryMode.SAFE)
    assert why in (caught.value.detail or "")
    assert "could not be decoded (after 1 attempt)" in caught.value.message_text

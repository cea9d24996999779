"""Reading an answer's body within bounds: a size cap on the wire and after decoding.

requests' `.content` reads the whole body and inflates gzip without a limit, so a 1 MB
answer that expands to 1 GiB costs 1 GiB of memory. Here the wire bytes are read in
chunks and inflated ourselves, `max_length` at a time, so the decoded body never holds
more than the cap plus one chunk; past the cap the read stops with `BodyTooLarge`, or,
for a caller that needs only the start (the webhook's snippet), with the start kept.

Only gzip and deflate are asked for (`ACCEPT_ENCODING`); an answer in another coding
is refused rather than passed on undecoded as if it were the body.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass

import requests

ACCEPT_ENCODING = "gzip, deflate"
CHUNK = 64 * 1024  # wire bytes per read
PIECE = 1024 * 1024  # decoded bytes per inflate step
MiB = 1024 * 1024


class BodyTooLarge(requests.RequestException):
    """The answer is larger than the cap (on the wire, declared, or once decoded)."""

    def __init__(self, limit: int, read: int, where: str) -> None:
        super().__init__(f"answer larger than {describe_size(limit)} ({where})")
        self.limit = limit
        self.read = read
        self.where = where


class BodyDecodingError(requests.exceptions.ContentDecodingError):
    """The Content-Encoding is not one we asked for, or the compressed data is broken."""


class Abandoned(requests.RequestException):
    """The caller gave up on this exchange (deadline or stop); nothing more is read."""


@dataclass(frozen=True)
class BodyLimit:
    """How much of a body to read: `max_bytes` on the wire and decoded alike; past it the
    read fails, unless `keep_start` says the start of the body is all the caller needs."""

    max_bytes: int
    keep_start: bool = False


def describe_size(size: int) -> str:
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


class _Inflater:
    """Incremental gzip/deflate decoding that never returns more than asked for."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        # 47 = 32 + 15: zlib or gzip framing, detected from the header.
        self._wbits = 47
        self._zlib = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes, body: bytearray, room: int) -> None:
        """Append the decoded `data` to `body`, stopping once it holds more than `room`
        new bytes (one over is enough for the caller to see the cap is exceeded).

        Pieces of at most PIECE bytes go straight into `body`, so decoding a bomb never
        holds more than the cap plus one piece."""
        limit = len(body) + room + 1
        pending = data
        while pending and len(body) < limit:
            try:
                body += self._zlib.decompress(pending, min(PIECE, limit - len(body)))
            except zlib.error as exc:
                if self._coding == "deflate" and not self._started:
                    # Some servers send raw deflate without the zlib header.
                    self._wbits, self._zlib = -15, zlib.decompressobj(-15)
                    self._started = True
                    continue
                msg = f"the {self._coding} body is not valid compressed data ({exc})"
                raise BodyDecodingError(msg) from None
            self._started = True
            if self._zlib.eof:
                # Gzip allows several members back to back: the rest is another member.
                pending = self._zlib.unused_data
                self._zlib = zlib.decompressobj(self._wbits)
            else:
                pending = self._zlib.unconsumed_tail


def read_body(response: requests.Response, limit: BodyLimit, abandoned: threading.Event) -> bytes:
    """The body of a `stream=True` response, read and decoded within `limit`."""
    coding = response.headers.get("Content-Encoding", "").strip().lower()
    if coding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        msg = f"the answer uses Content-Encoding {coding[:40]!r}, which was not asked for"
        raise BodyDecodingError(msg)
    declared = response.headers.get("Content-Length", "").strip()
    # A declared size over the cap fails before a byte is read (unless only the start
    # is wanted, which the stream below cuts off).
    too_big = declared.isascii() and declared.isdigit() and int(declared) > limit.max_bytes
    if too_big and not limit.keep_start:
        raise BodyTooLarge(limit.max_bytes, 0, f"Content-Length {declared}")
    inflater = _Inflater(coding.removeprefix("x-")) if coding not in ("", "identity") else None
    body = bytearray()
    wire = 0
    for chunk in response.raw.stream(CHUNK, decode_content=False):
        if abandoned.is_set():
            msg = "given up: the deadline passed or the run was stopped"
            raise Abandoned(msg)
        wire += len(chunk)
        room = limit.max_bytes - len(body)
        if inflater is None:
            body += chunk[: room + 1]
        else:
            inflater.feed(chunk, body, room)
        if len(body) > limit.max_bytes or wire > limit.max_bytes:
            if limit.keep_start:
                return bytes(body[: limit.max_bytes])
            where = f"{describe_size(wire)} read on the wire"
            if inflater is not None:
                where += ", decoded past the cap"
            raise BodyTooLarge(limit.max_bytes, wire, where)
    return bytes(body)

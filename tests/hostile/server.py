"""A hostile training service on 127.0.0.1: real HTTP, impolite answers.

Each path is one misbehaviour (the issue-14 classes the HTTP layer must bound):

- `/drip`: a 200 whose JSON body arrives one byte every `DRIP_SECONDS`; each read
  succeeds, so no read timeout ever trips.
- `/silent`: reads the request, then answers nothing until the client hangs up.
- `/bomb`: a 200 JSON answer, `Content-Encoding: gzip`, about 1 MB on the wire that
  expands to 1 GiB of zeros (64 gzip members of 16 MiB each, back to back, which
  RFC 1952 allows and every gzip reader must follow).
- `/bomb-500`: the same bomb as an HTTP 500 error body.
- `/duplicate-keys`, `/nan`, `/infinity`: JSON that Python's `json` reads, but not
  strict JSON.
- `/retry-after-2xx`: a 200 RUNNING status with `Retry-After: 7200` (two hours).
- `/retry-after-hours`: a 503 with `Retry-After` two hours ahead (delta or HTTP date).
- `/gzip-ok`, `/deflate-zlib`, `/deflate-raw`: a polite compressed answer (`PLAIN`).
- `/brotli`, `/broken-gzip`: a coding we did not ask for; gzip that is not gzip.
- `/big-error`: a 500 with a 5 MiB plain-text body.
- `/huge-error`: a 500 declaring 256 MiB of text, written until the client hangs up;
  the bytes it managed to send are kept in `HostileServer.sent`.
"""

from __future__ import annotations

import functools
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRIP_SECONDS = 0.25
BOMB_MEMBER = 16 * 1024 * 1024
BOMB_MEMBERS = 64  # 64 x 16 MiB = 1 GiB decoded
HOURS = 7200


PLAIN = b'{"status": "RUNNING", "progress": 0.25, "note": "' + b"ok " * 5000 + b'"}'


def _pack(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@functools.lru_cache(maxsize=1)
def bomb_member() -> bytes:
    """One gzip member holding 16 MiB of zeros (about 16 KB compressed)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(b"\0" * BOMB_MEMBER) + packer.flush()


def bomb_wire_size() -> int:
    return len(bomb_member()) * BOMB_MEMBERS


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-answer is what these tests are about


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _route_huge_error(self) -> None:
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        chunk, sent = b"x" * 65536, 0
        owner = self.server.owner  # type: ignore[attr-defined]
        try:
            while sent < HUGE:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the client stopped reading and hung up: what a bounded reader does
        finally:
            owner.sent[self.path] = sent

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        self.rfile.read(length)
        self._answer()

    def _answer(self) -> None:
        route = self.path.split("?", 1)[0].strip("/").replace("-", "_")
        getattr(self, f"_route_{route}", self._route_missing)()

    def _json(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _route_missing(self) -> None:
        self._json(404, b'{"title": "no such hostile route"}')

    def _route_drip(self) -> None:
        body = b'{"status": "RUNNING", "progress": 0.5}' + b" " * 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(DRIP_SECONDS)

    def _route_silent(self) -> None:
        # Until the client hangs up (a read then fails) or the test ends.
        self.connection.settimeout(0.5)
        for _ in range(120):
            try:
                if self.connection.recv(1) == b"":
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _bomb(self, status: int) -> None:
        member = bomb_member()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(member) * BOMB_MEMBERS))
        self.end_headers()
        for _ in range(BOMB_MEMBERS):
            self.wfile.write(member)

    def _route_bomb(self) -> None:
        self._bomb(200)

    def _route_bomb_500(self) -> None:
        self._bomb(500)

    def _route_duplicate_keys(self) -> None:
        self._json(200, b'{"status": "RUNNING", "f1": 0.91, "f1": 0.12}')

    def _route_nan(self) -> None:
        self._json(200, b'{"status": "COMPLETED", "f1": NaN}')

    def _route_infinity(self) -> None:
        self._json(200, b'{"status": "COMPLETED", "f1": 1e999}')

    def _route_retry_after_2xx(self) -> None:
        self._json(200, b'{"status": "RUNNING"}', Retry_After=str(HOURS))

    def _route_retry_after_hours(self) -> None:
        self._json(503, b'{"title": "busy"}', Retry_After=str(HOURS))

    def _route_retry_after_date(self) -> None:
        when = datetime.now(timezone.utc) + timedelta(seconds=HOURS)
        self._json(429, b'{"title": "slow down"}', Retry_After=format_datetime(when, usegmt=True))

    def _encoded(self, coding: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route_gzip_ok(self) -> None:
        # Two members: a reader that stops after the first would lose the second half.
        half = len(PLAIN) // 2
        self._encoded("gzip", _pack(PLAIN[:half], 31) + _pack(PLAIN[half:], 31))

    def _route_deflate_zlib(self) -> None:
        self._encoded("deflate", _pack(PLAIN, 15))

    def _route_deflate_raw(self) -> None:
        self._encoded("deflate", _pack(PLAIN, -15))

    def _route_brotli(self) -> None:
        self._encoded("br", b"\x0b\x02\x80" + PLAIN)

    def _route_broken_gzip(self) -> None:
        self._encoded("gzip", b"\x1f\x8b\x08\x00 this is not deflate data at all")

    def _route_big_error(self) -> None:
        body = b"x" * (5 * 1024 * 1024)
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HUGE = 256 * 1024 * 1024


class HostileServer:
    """The server on a free loopback port, in daemon threads."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self.sent: dict[str, int] = {}
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> HostileServer:
        bomb_member()  # built before the clock of any test starts
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

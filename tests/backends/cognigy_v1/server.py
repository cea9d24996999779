"""A scripted HTTP server on 127.0.0.1 for the client's tests: real sockets, no mocks.

Each (method, path) has a queue of `Reply`s; when a queue runs dry its last reply repeats.
The token endpoint answers by itself (tok-1, tok-2, ...) unless a test scripts it.
Every request is recorded, so tests can assert on what the client sent.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ALL_SCOPES = "model:read model:write training:read training:write"
API_PREFIX = "/api/v1"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close the connection with a TCP RST instead of answering
    delay: float = 0.0  # seconds to stall before answering (read timeouts)
    content_type: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Tests make the client give up (read timeouts); its closed socket is expected.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ScriptedServer:
    def __init__(self, port: int = 0) -> None:
        self.routes: dict[tuple[str, str], deque[Reply]] = {}
        self.seen: list[Seen] = []
        self.tokens_issued = 0
        self.token_lifetime: float = 3600
        self.token_scope: str | None = ALL_SCOPES
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def close(self) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def on(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self.routes.setdefault((method, API_PREFIX + path), deque()).extend(replies)

    def requests_to(self, path: str, method: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if s.path == API_PREFIX + path and (method is None or s.method == method)
        ]

    def _next_reply(self, method: str, path: str) -> Reply:
        with self._lock:
            queue = self.routes.get((method, path))
            if queue:
                return queue.popleft() if len(queue) > 1 else queue[0]
            if (method, path) == ("POST", API_PREFIX + "/auth/token"):
                return self._issue_token()
        return Reply(404, {"title": "Not Found", "status": 404, "detail": f"no route {path}"})

    def _issue_token(self) -> Reply:
        self.tokens_issued += 1
        body: dict[str, Any] = {
            "access_token": f"tok-{self.tokens_issued}-s3cr3t",
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
        }
        if self.token_scope is not None:
            body["scope"] = self.token_scope
        return Reply(200, body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # header and body go out in two writes

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                seen = Seen(
                    self.command, path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with server._lock:
                    server.seen.append(seen)
                reply = server._next_reply(self.command, path)
                if reply.delay:
                    server.closing.wait(reply.delay)
                if reply.reset:
                    self._reset()
                    return
                self._answer(reply)

            def _reset(self) -> None:
                # SO_LINGER with a zero timeout turns close() into a TCP RST.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True

            def _answer(self, reply: Reply) -> None:
                if isinstance(reply.body, bytes):
                    payload = reply.body
                elif isinstance(reply.body, str):
                    payload = reply.body.encode()
                elif reply.body is None:
                    payload = b""
                else:
                    payload = json.dumps(reply.body).encode()
                content_type = reply.content_type or (
                    "application/problem+json" if reply.status >= 400 else "application/json"
                )
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

        return Handler


def free_port() -> int:
    """A port nothing listens on (for connection-refused cases)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

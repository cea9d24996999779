"""A hostile training service for tests: a real HTTP proxy on 127.0.0.1 in front of the
emulator, which rewrites chosen answers (secrets echoed back, forged commands, broken
tokens), or intercepts a request before the emulator sees it (answers it itself, or
forwards it later: a gateway's 504 for a write that still lands), and records every
token the client was issued."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus, urlsplit


@dataclass(frozen=True)
class Exchange:
    """One request as the proxy saw it, and the emulator's answer to it."""

    method: str
    path: str
    body: bytes
    status: int
    answer: bytes


# An answer that replaces the emulator's: (status, content type, body).
Rewrite = tuple[int, str, bytes]
Rewriter = Callable[[Exchange, "HostileProxy"], Rewrite | None]


@dataclass(frozen=True)
class Request:
    """A request as it reached the proxy, before the emulator saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# Called before forwarding: an answer means the emulator never sees the request (unless
# the interceptor forwards it itself, e.g. later, with `HostileProxy.forward`).
Interceptor = Callable[[Request, "HostileProxy"], Rewrite | None]


def encodings(secret: str, client_id: str = "hostile-client") -> dict[str, str]:
    """The forms a service could echo a secret in, computed here independently of
    ci_trainer.redact (base64 as HTTP basic auth sends it, `id:secret`)."""
    return {
        "raw": secret,
        "url": quote(secret, safe=""),
        "form": quote_plus(secret),
        "basic": base64.b64encode(f"{client_id}:{secret}".encode()).decode(),
        "base64": base64.b64encode(secret.encode()).decode(),
        "json": json.dumps(secret)[1:-1],
        "repr": repr(secret)[1:-1],
    }


@dataclass
class HostileProxy:
    upstream: str
    rewrite: Rewriter
    tokens: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    intercept: Interceptor | None = None
    requests: list[Request] = field(default_factory=list)  # every one that arrived

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                request = Request(self.command, self.path, headers, body)
                proxy.requests.append(request)
                replaced = proxy.intercept(request, proxy) if proxy.intercept else None
                if replaced is None:
                    exchange, kind = proxy.forward(request)
                    replaced = proxy.rewrite(exchange, proxy)
                    if replaced is None:
                        replaced = (exchange.status, kind, exchange.answer)
                status, kind, content = replaced
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def forward(self, request: Request) -> tuple[Exchange, str]:
        """Send `request` to the emulator: what it answered, and its content type."""
        target = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        try:
            connection.request(
                request.method, request.path, body=request.body, headers=request.headers
            )
            upstream = connection.getresponse()
            answer = upstream.read()
            kind = upstream.getheader("Content-Type", "application/json")
        finally:
            connection.close()
        exchange = Exchange(request.method, request.path, request.body, upstream.status, answer)
        self.exchanges.append(exchange)
        if request.path.endswith("/auth/token") and upstream.status == 200:
            self.tokens.append(json.loads(answer)["access_token"])
        return exchange, kind

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{urlsplit(self.upstream).path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

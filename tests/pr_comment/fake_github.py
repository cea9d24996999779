"""A fake of the three GitHub REST endpoints the pull request comment uses, served over
real HTTP on 127.0.0.1: list a pull request's issue comments (paginated with a Link
header, as GitHub does), create one, update one.

Answers can be scripted ahead (`fail`): a status, headers and GitHub's JSON error, for
the next matching requests, to play a fork's read-only token, a rate limit or a 5xx.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_faketoken0123456789abcdefABCDEF"  # distinctive, to grep every output for it
BOT = "github-actions[bot]"
_LIST = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/([0-9]+)/comments$")
_BY_ID = re.compile(r"^/repositories/([0-9]+)/issues/([0-9]+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+)/([^/]+)/issues/comments/([0-9]+)$")


@dataclass
class Comment:
    id: int
    repository: str
    number: int
    body: str
    user: str


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: Any
    at: float = 0.0


@dataclass
class Scripted:
    status: int
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None  # None: any method
    times: int = 1


class FakeGitHub:
    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        self.comments: list[Comment] = []
        self.seen: list[Seen] = []
        self.script: list[Scripted] = []
        self._next_id = 1000
        self._repository_ids: dict[str, int] = {}
        self.link_base: str | None = None  # where the Link header's pages point (a test's)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what a test sets up and reads back --------------------------------------------

    def add_comment(self, repository: str, number: int, body: str, user: str = "octocat") -> int:
        with self._lock:
            self._next_id += 1
            self.comments.append(Comment(self._next_id, repository, number, body, user))
            return self._next_id

    def on(self, repository: str, number: int) -> list[Comment]:
        return [c for c in self.comments if (c.repository, c.number) == (repository, number)]

    def fail(self, status: int, message: str = "", **options: Any) -> None:
        self.script.append(Scripted(status, message, **options))

    def calls(self, method: str | None = None) -> list[Seen]:
        return [seen for seen in self.seen if method is None or seen.method == method]

    # --- serving -------------------------------------------------------------------

    def _scripted(self, method: str) -> Scripted | None:
        with self._lock:
            for entry in self.script:
                if entry.method in (None, method) and entry.times > 0:
                    entry.times -= 1
                    return entry
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        parts = urlsplit(handler.path)
        with self._lock:
            self.seen.append(
                Seen(method, handler.path, handler.headers.get("Authorization"), body, time.time())
            )
        scripted = self._scripted(method)
        if scripted is not None:
            self._send(handler, scripted.status, {"message": scripted.message}, scripted.headers)
            return
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self._send(handler, 401, {"message": "Bad credentials"})
            return
        if handler.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            self._send(handler, 400, {"message": "missing X-GitHub-Api-Version"})
            return
        if (match := _BY_ID.match(parts.path)) is not None and method == "GET":
            ids = {number: name for name, number in self._repository_ids.items()}
            if int(match[1]) in ids:
                self._list(handler, ids[int(match[1])], int(match[2]), parse_qs(parts.query))
                return
        if (match := _LIST.match(parts.path)) is not None:
            repository, number = f"{match[1]}/{match[2]}", int(match[3])
            if method == "GET":
                self._list(handler, repository, number, parse_qs(parts.query))
                return
            if method == "POST" and isinstance(body, dict) and isinstance(body.get("body"), str):
                comment_id = self.add_comment(repository, number, body["body"], BOT)
                self._send(handler, 201, self._json(self.comments[-1], comment_id))
                return
        if (match := _ONE.match(parts.path)) is not None and method == "PATCH":
            found = next((c for c in self.comments if c.id == int(match[3])), None)
            if found is None or not isinstance(body, dict):
                self._send(handler, 404, {"message": "Not Found"})
                return
            found.body = body["body"]
            self._send(handler, 200, self._json(found, found.id))
            return
        self._send(handler, 404, {"message": "Not Found"})

    def _list(
        self,
        handler: BaseHTTPRequestHandler,
        repository: str,
        number: int,
        query: dict[str, list[str]],
    ) -> None:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        every = self.on(repository, number)
        items = every[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(every):
            # As GitHub does: an absolute URL, by the repository's numeric id.
            repository_id = self._repository_ids.setdefault(
                repository, 4242 + len(self._repository_ids)
            )
            nxt = f"{self.link_base or self.url}/repositories/{repository_id}/issues/{number}/comments"
            headers["Link"] = (
                f'<{nxt}?per_page={per_page}&page={page + 1}>; rel="next", '
                f'<{nxt}?per_page={per_page}&page=1>; rel="first"'
            )
        self._send(handler, 200, [self._json(c, c.id) for c in items], headers)

    def _json(self, comment: Comment, comment_id: int) -> dict[str, Any]:
        owner_repo = comment.repository
        return {
            "id": comment_id,
            "body": comment.body,
            "user": {"login": comment.user, "type": "Bot" if "[bot]" in comment.user else "User"},
            "html_url": f"https://github.com/{owner_repo}/pull/{comment.number}#issuecomment-{comment_id}",
        }

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        document: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(document).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

"""One request and its whole answer under a wall-clock deadline, stoppable at any moment.

requests' timeouts bound each socket operation, not the request: a server that sends
one byte a second never trips a 30 s read timeout. So the exchange (connect, headers,
body) runs in a worker thread while the caller waits on it in short slices; at the
deadline, or when the run is stopped, the caller leaves at once and the worker is told
to give up: its socket is shut down, which ends a blocked read, and it reads nothing
more. The connect and read timeouts still apply inside, so an abandoned worker ends by
itself even before its socket is known (while it is still connecting).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ci_trainer.http.body import BodyLimit, read_body

# How often a waiting caller looks at the stop flag: well inside the runner's 7.5 s
# between SIGTERM and kill, and cheap (an Event wait that ends early when done).
STOP_CHECK_SECONDS = 0.1


class DeadlineExceeded(requests.exceptions.Timeout):
    """The whole exchange did not finish within its deadline."""

    def __init__(self, deadline: float) -> None:
        super().__init__(f"no complete answer within the {deadline:g} s deadline")
        self.deadline = deadline


class Stopped(Exception):
    """The run was stopped while the exchange was in flight."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    content: bytes


class Exchange:
    """One request in a worker thread; `wait` returns its answer or its failure."""

    def __init__(
        self,
        session: requests.Session,
        method: str,
        url: str,
        request: Mapping[str, Any],
        limit: BodyLimit,
    ) -> None:
        self._session = session
        self._method = method
        self._url = url
        self._request = request
        self._limit = limit
        self._done = threading.Event()
        self._abandoned = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._answer: Answer | None = None
        self._failure: BaseException | None = None

    def wait(
        self, deadline: float, stop: threading.Event, grace: float = 0.0
    ) -> Answer | requests.RequestException:
        """The answer, or the transport failure; raises Stopped when `stop` is set first.

        `grace`: seconds an exchange in flight may still take once `stop` is set (the
        webhook's last word to the registry); 0 ends it at once."""
        worker = threading.Thread(target=self._run, name="ci-trainer-http", daemon=True)
        end = time.monotonic() + deadline
        stopping = False
        worker.start()
        while not self._done.wait(min(STOP_CHECK_SECONDS, max(0.0, end - time.monotonic()))):
            if stop.is_set() and not stopping:
                stopping = True
                end = min(end, time.monotonic() + grace)
            if time.monotonic() >= end:
                self._abandon()
                if stopping:
                    raise Stopped
                return DeadlineExceeded(deadline)
        if self._answer is not None:
            return self._answer
        if isinstance(self._failure, requests.RequestException):
            return self._failure
        raise self._failure or RuntimeError("the HTTP worker ended without an outcome")

    def _run(self) -> None:
        try:
            self._answer = self._exchange()
        except BaseException as exc:  # handed to the waiting caller, who judges it
            self._failure = exc
        finally:
            self._done.set()

    def _exchange(self) -> Answer:
        response = self._session.request(self._method, self._url, stream=True, **self._request)
        with self._lock:
            self._response = response
            abandoned = self._abandoned.is_set()
        try:
            if abandoned:
                msg = "given up before the body was read"
                raise requests.RequestException(msg)
            content = read_body(response, self._limit, self._abandoned)
        finally:
            response.close()
        return Answer(response.status_code, response.headers, content)

    def _abandon(self) -> None:
        with self._lock:
            self._abandoned.set()
            response = self._response
        if response is not None:
            _shut(response)


def _shut(response: requests.Response) -> None:
    """Shut the answer's socket down: a read blocked on it returns at once."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

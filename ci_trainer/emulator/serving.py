"""The lifecycle both emulator personalities share: a WSGI app served from a thread."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, TypeVar

from werkzeug.serving import (
    BaseWSGIServer,
    WSGIRequestHandler,
    make_server,
    select_address_family,
)

from ci_trainer.emulator.tls import TlsFiles
from ci_trainer.emulator.training import preload

logger = logging.getLogger("ci_trainer.emulator")

_Served = TypeVar("_Served", bound="ServedApp")


class _QuietHandler(WSGIRequestHandler):
    """The app logs each request itself (with its faults); werkzeug's line would repeat it."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug(message, *args)


class ServedApp:
    """Serve `self.app` on host:port (0 = a free port) from a daemon thread.

    Subclasses set `app`, `url_path` (appended to the base URL) and `_close_service()`.
    With `tls`, it serves https with those files (see ci_trainer.emulator.tls).
    """

    app: Any
    url_path = ""
    _thread_name = "ci-trainer-emulator"

    def __init__(self, host: str, port: int, *, tls: TlsFiles | None = None) -> None:
        self._host, self._port = host, port
        self.tls = tls
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _close_service(self) -> None:
        """Release what the service holds (worker pools) once the server has stopped."""

    def start(self: _Served) -> _Served:
        if self._server is not None:
            return self
        # Bound here, not by werkzeug: on a taken port werkzeug prints its own advice
        # and exits; ours (with the flag to change) is the one the user should read.
        listening = socket.create_server(
            (self._host, self._port), family=select_address_family(self._host, self._port)
        )
        try:
            server = make_server(
                self._host,
                self._port,
                self.app,
                threaded=True,
                request_handler=_QuietHandler,
                ssl_context=self.tls.server_context() if self.tls else None,
                fd=listening.fileno(),
            )
        finally:
            listening.close()  # werkzeug serves a duplicate of the descriptor
        self._server = server
        self._thread = threading.Thread(
            # A short poll interval makes stop() quick (tests start hundreds of emulators).
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self._thread_name,
            daemon=True,
        )
        self._thread.start()
        # Warm scikit-learn up while the client authenticates and validates datasets.
        threading.Thread(target=preload, name=f"{self._thread_name}-preload", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._close_service()
        self._server, self._thread = None, None

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI); returns after `stop()` from a signal."""
        self.start()
        thread = self._thread  # stop() clears the attribute
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self: _Served) -> _Served:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._host

    @property
    def requested_port(self) -> int:
        return self._port

    @property
    def port(self) -> int:
        if self._server is None:
            msg = "the emulator is not running; use it as a context manager or call start()"
            raise RuntimeError(msg)
        return int(self._server.port)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        if self._server is None:
            return f"{self.scheme}://{host}:{self._port or '<not started>'}{self.url_path}"
        return f"{self.scheme}://{host}:{self.port}{self.url_path}"


def serve_until_stopped(served: ServedApp, announce: Callable[[], None]) -> int:
    """Run an emulator in the foreground for `ci-trainer emulator` until SIGINT/SIGTERM."""
    try:
        served.start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(
            f"ci-trainer emulator: cannot listen on {served.host}:{served.requested_port}: "
            f"{reason} (choose another --port, or 0 for a free one)",
            file=sys.stderr,
        )
        return 3

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # The handler goes in before the announcement: whoever reads it may send SIGTERM at
    # once, and must get a clean stop, not the default kill. SIGINT already raises.
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        announce()
        served.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0

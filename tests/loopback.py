"""A test HTTP server on 127.0.0.1 served from a daemon thread: the fakes' shared life cycle."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Any, Self


class LoopbackServer:
    """Owns one ThreadingHTTPServer on loopback; subclasses build it in :meth:`start`."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _serve(self, server: ThreadingHTTPServer, *, name: str, poll_interval: float = 0.5) -> None:
        """Start serving ``server`` in a daemon thread named ``name``."""
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        )
        self._thread.start()

    def start(self) -> Self:  # pragma: no cover - every fake defines its own
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

"""Authorised HTTP connections for concurrent API calls.

httplib2 connections are not thread-safe, and the worker's threads come and go
(every batch call runs in a fresh pool), so a request borrows an idle
connection for its duration instead of keeping one per thread: the number of
connections stays at the peak number of concurrent requests.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["Connections"]


class Connections:
    """A pool of google-auth ``AuthorizedHttp`` connections, one per socket timeout."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials
        self._idle: dict[float, list[Any]] = {}
        self._all: list[Any] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrow(self, timeout: float) -> Iterator[Any]:
        """An idle connection whose socket timeout is ``timeout`` seconds, or a new one."""
        with self._lock:
            idle = self._idle.setdefault(timeout, [])
            http = idle.pop() if idle else None
        if http is None:
            import google_auth_httplib2  # type: ignore[import-untyped]
            import httplib2  # type: ignore[import-untyped]

            http = google_auth_httplib2.AuthorizedHttp(self._credentials, http=httplib2.Http(timeout=timeout))
            with self._lock:
                self._all.append(http)
        try:
            yield http
        finally:
            with self._lock:
                self._idle[timeout].append(http)

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            connections, self._all, self._idle = self._all, [], {}
        for http in connections:
            http.close()

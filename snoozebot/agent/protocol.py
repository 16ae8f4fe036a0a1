"""The agent's HTTP/1.1 protocol: uvicorn's httptools protocol with a header deadline and size limit.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but bounds
neither how long a client may take to send a request's head (request line and
headers) nor, with httptools, how large the head may be. The subclass here adds
both to uvicorn's own :class:`HttpToolsProtocol` (see docs/agent.md, "Slow and
hostile clients"):

- a head must be complete within :data:`HEADER_TIMEOUT` seconds of the
  connection opening, or of the first byte of a next request on a kept-alive
  connection; else the connection is dropped, without an answer;
- a head over :data:`MAX_HEADER_BYTES` is answered 431 with a JSON error body,
  and the connection is closed. While a head is incomplete no more than the
  limit is handed to the parser, so a client cannot make the agent buffer more.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "MAX_HEADER_BYTES", "GuardedHttpToolsProtocol"]

HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a request's line and headers."""

MAX_HEADER_BYTES = 64 * 1024
"""The largest request line and headers accepted, in bytes."""

KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle kept-alive connection stays open (uvicorn's ``timeout_keep_alive``)."""

_REFUSAL_BODY = json.dumps(
    {
        "error": {
            "code": "headers_too_large",
            "message": f"request line and headers over the limit of {MAX_HEADER_BYTES} bytes",
        }
    }
).encode()
_REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _REFUSAL_BODY
)


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the limit."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size limit on every request's head."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_pending = True  # the parser waits for (the rest of) a head
        self._head_bytes = 0  # bytes handed to the parser while it waits for this head
        self._head_refused = False

    # The deadline
    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_too_slow)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.warning(
                "%s - request headers not complete within %g s: connection dropped",
                self._peer(),
                HEADER_TIMEOUT,
            )
            self.transport.close()

    # The size limit
    def _refuse_head(self) -> None:
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self.logger.warning(
                "%s - request headers over %d bytes: answered 431", self._peer(), MAX_HEADER_BYTES
            )
            self.transport.write(_REFUSAL)
            self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    # uvicorn's protocol, extended
    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Hand the parser at most the rest of the head's budget while a head is incomplete."""
        while self._head_pending and data:
            room = MAX_HEADER_BYTES - self._head_bytes
            if room <= 0:
                self._refuse_head()
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if data:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()  # the first byte of a next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._cancel_head_timer()
        # A head that arrived whole, after the end of a previous request in the same read,
        # was not counted by data_received: measure it.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEADER_BYTES:
            self._head_refused = True
            raise _HeadTooLarge  # the parser stops; uvicorn answers through send_400_response
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        if self._head_refused:
            self._refuse_head()
        else:
            super().send_400_response(msg)

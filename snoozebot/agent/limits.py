"""Rules on request bodies, checked before anything else runs (authentication included).

Two pure ASGI middlewares (see docs/rest.md, "Errors"):

- :class:`BodySizeLimit`: a body over 1 MiB gets 413. A declared
  ``Content-Length`` over the limit is answered at once; a chunked body is
  counted as the route reads it, and reading past the limit raises the 413
  ``HTTPException`` that the JSON error handler answers.
- :class:`BodyMediaTypeRequired`: a body without a ``Content-Type`` gets 415,
  as one sent as anything but JSON does (the API reads JSON only, and does
  not guess).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snoozebot.agent.errors import error_response

__all__ = ["MAX_BODY_BYTES", "BodyMediaTypeRequired", "BodySizeLimit"]

MAX_BODY_BYTES = 1024 * 1024


class BodySizeLimit:
    """Answer 413 to request bodies over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    def _message(self) -> str:
        return f"request body over the limit of {self.limit} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                await error_response(413, "payload_too_large", self._message())(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counting_receive, send)


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length", b"")
    return b"transfer-encoding" in headers or length.strip() not in (b"", b"0")


class BodyMediaTypeRequired:
    """Answer 415 to requests that send a body without saying what it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if _has_body(headers) and not headers.get(b"content-type", b"").strip():
                message = "send the body as JSON, with Content-Type: application/json"
                await error_response(415, "unsupported_media_type", message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

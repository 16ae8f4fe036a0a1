"""Plugin calls with a bound on how long a page waits for them.

A slow or hung plugin must never hang a page: :func:`bounded` waits at most
``seconds`` and then answers with a message saying so, while the call goes on
in the background until the plugin's own timeout ends it. Expected failures
(plugin unavailable, cloud error, not loaded) become one line for the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from snoozebot import sdk
from snoozebot.agent.errors import ApiError
from snoozebot.errors import SnoozebotError

__all__ = ["Answer", "bounded"]

T = TypeVar("T")

_EXPECTED = (ApiError, SnoozebotError, sdk.ProviderError)


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A call's value, or why there is none (``timed_out`` when the page stopped waiting)."""

    value: T | None = None
    error: str | None = None
    code: str | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def _forget(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it


async def bounded(call: Awaitable[T], *, seconds: float, what: str) -> Answer[T]:
    """The outcome of ``call``, waiting at most ``seconds``; ``what`` names it in messages."""
    task = asyncio.ensure_future(call)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.add_done_callback(_forget)
        return Answer(
            error=f"{what} did not answer within {seconds:g} s (timed out); it may still be "
            "working. Reload the page to try again.",
            code="timeout",
            timed_out=True,
        )
    exc = task.exception()
    if exc is None:
        return Answer(value=task.result())
    if isinstance(exc, _EXPECTED):
        return Answer(error=str(getattr(exc, "message", exc)), code=str(getattr(exc, "code", "error")))
    raise exc

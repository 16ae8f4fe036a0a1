"""Plugin calls with a bound on how long a page waits for them.

A slow or hung plugin must never hang a page: :func:`bounded` waits at most
``seconds`` and then answers with a message saying so, while the call goes on
in the background until the plugin's own timeout ends it; :class:`SingleFlight`
lets pages asking the same thing meanwhile (reloads, the live refresh) wait
for that call instead of starting more of them. Expected failures
(plugin unavailable, cloud error, not loaded) become one line for the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from snoozebot import sdk
from snoozebot.agent.errors import ApiError
from snoozebot.errors import SnoozebotError

__all__ = ["Answer", "SingleFlight", "bounded"]

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


class SingleFlight:
    """Identical calls in flight at the same time share one run."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    def run(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """The call in flight for ``key``, or a new one made by ``start``."""
        running = self._running.get(key)
        if running is not None:
            return running
        future: asyncio.Future[T] = asyncio.ensure_future(start())
        self._running[key] = future
        future.add_done_callback(lambda _: self._running.pop(key, None))
        return future

    def __len__(self) -> int:
        return len(self._running)

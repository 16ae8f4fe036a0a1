"""The provider objects of one worker: one for its own options, one more per scope asked for.

A fleet target's scopes (accounts, regions, projects) are served by the one
worker of their provider: each request may name a ``scope`` (the full provider
options of that scope), and the worker answers it with the provider object it
built for exactly those options, created on first use inside the worker (so
no cloud client ever crosses a fork) and kept for the worker's life. A
provider that cannot be set up for some options reports that error on every
call for them, as the worker's own provider does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from snoozebot import sdk

__all__ = ["ScopedProviders"]

_Key = tuple[tuple[str, str], ...]


class ScopedProviders:
    """Provider objects by options, built lazily and at most once each."""

    def __init__(
        self, make: Callable[[dict[str, str]], sdk.CloudProvider], options: Mapping[str, str]
    ) -> None:
        self._make = make
        self._own = self._key(options)
        self._built: dict[_Key, sdk.CloudProvider | BaseException] = {}
        self._lock = threading.Lock()
        self._build(self._own)

    @staticmethod
    def _key(options: Mapping[str, Any]) -> _Key:
        return tuple(sorted((str(k), str(v)) for k, v in options.items()))

    def _build(self, key: _Key) -> sdk.CloudProvider | BaseException:
        with self._lock:
            if key not in self._built:
                try:
                    self._built[key] = self._make(dict(key))
                except BaseException as exc:  # reported on every call for these options
                    self._built[key] = exc
            return self._built[key]

    def setup_error(self, scope: Mapping[str, Any] | None = None) -> BaseException | None:
        """Why the provider for ``scope`` (default: the worker's options) could not be set up."""
        built = self._build(self._own if scope is None else self._key(scope))
        return built if isinstance(built, BaseException) else None

    def get(self, scope: Mapping[str, Any] | None = None) -> sdk.CloudProvider:
        """The provider object for ``scope``; raises its setup error."""
        built = self._build(self._own if scope is None else self._key(scope))
        if isinstance(built, BaseException):
            raise built
        return built

    def close(self) -> None:
        """Close every provider object that was built."""
        for built in self._built.values():
            if isinstance(built, sdk.CloudProvider):
                built.close()

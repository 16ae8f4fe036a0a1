"""Deferred stops: the stop boundary each busy instance is still owed (docs/schedules.md#busy-aware-stops).

A schedule with ``unless_busy`` defers a stop while the instance reports busy.
The boundary then lies behind the next run's window, so the run remembers it
here, per provider and instance, in ``schedule-deferred.json``; each later run
tries that stop again until the schedule's next boundary passes. Written only
by real runs, under the run lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from snoozebot.state import atomic_write_json, read_json

__all__ = ["DeferralRecord"]


class DeferralRecord:
    """``schedule-deferred.json``: provider -> instance id -> the deferred stop boundary (UTC)."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / "schedule-deferred.json"

    def _providers(self) -> dict[str, object]:
        data = read_json(self._path, {})
        providers = data.get("providers") if isinstance(data, dict) else None
        return dict(providers) if isinstance(providers, dict) else {}

    def for_provider(self, provider: str) -> dict[str, dt.datetime]:
        """The deferred stop boundary of each instance of ``provider``."""
        items = self._providers().get(provider)
        found: dict[str, dt.datetime] = {}
        for iid, value in (items if isinstance(items, dict) else {}).items():
            try:
                when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                continue
            if when is not None and when.tzinfo is not None:
                found[str(iid)] = when
        return found

    def replace(self, provider: str, deferred: Mapping[str, dt.datetime]) -> None:
        """Make ``deferred`` the provider's whole record (hold the run lock)."""
        providers = self._providers()
        before = providers.get(provider) or {}
        after = {iid: when.astimezone(dt.UTC).isoformat() for iid, when in deferred.items()}
        if before == after:
            return
        if after:
            providers[provider] = after
        else:
            providers.pop(provider, None)
        atomic_write_json(self._path, {"providers": providers})

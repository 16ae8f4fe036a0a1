"""Deferred stops: the stop boundary each busy instance is still owed (docs/schedules.md#busy-aware-stops).

A schedule with ``unless_busy`` defers a stop while the instance reports busy.
The boundary then lies behind the next run's window, so the run remembers it
here, per provider and instance, in ``schedule-deferred.json``; each later run
tries that stop again until the schedule's next boundary passes. Written only
by real runs, under the run lock; a damaged file raises StateDamaged, as the
previous-run record does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from snoozebot.state import atomic_write_json, damaged, read_json

__all__ = ["DeferralRecord"]


class DeferralRecord:
    """``schedule-deferred.json``: provider -> instance id -> the deferred stop boundary (UTC)."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / "schedule-deferred.json"

    def _providers(self) -> dict[str, dict[str, str]]:
        """The whole record; StateDamaged when it is not what we wrote (never taken for empty)."""
        data = read_json(self._path, {"providers": {}})
        providers = data.get("providers") if isinstance(data, dict) else None
        if not isinstance(providers, dict) or not all(isinstance(v, dict) for v in providers.values()):
            raise damaged(self._path, 'expected {"providers": {NAME: {ID: TIME}}}')
        return dict(providers)

    def for_provider(self, provider: str) -> dict[str, dt.datetime]:
        """The deferred stop boundary of each instance of ``provider``."""
        found: dict[str, dt.datetime] = {}
        for iid, value in self._providers().get(provider, {}).items():
            try:
                when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                when = None
            if when is None or when.tzinfo is None:
                raise damaged(self._path, f"the time recorded for {iid!r} is not an ISO 8601 time")
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

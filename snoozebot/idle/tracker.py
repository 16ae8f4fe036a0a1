"""Since when this machine has been idle, kept in ``idle.json`` in the state directory.

A remembered time older than the last boot is discarded: the machine was
stopped (or rebooted) since, and its idleness starts over.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from snoozebot.state import atomic_write_json, read_json

__all__ = ["IdleTracker"]


class IdleTracker:
    """Read and write the idle-since time."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "idle.json"
        self.lock_path = directory / "idle.lock"

    def since(self, *, boot_time: dt.datetime) -> dt.datetime | None:
        """The remembered idle-since, or None when absent, unreadable, or older than ``boot_time``."""
        data = read_json(self.path, {})
        value = data.get("idle_since") if isinstance(data, dict) else None
        try:
            since = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
        if since is None or since.tzinfo is None or since < boot_time:
            return None
        return since

    def remember(self, since: dt.datetime) -> None:
        atomic_write_json(self.path, {"idle_since": since.astimezone(dt.UTC).isoformat()})

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

"""Activity reports: what ``idle check --report`` saw on an instance, kept per instance (docs/schedules.md).

An instance reports its readings and verdict either to the agent
(``POST /api/instances/{provider}/{id}/activity``, docs/rest.md), which keeps
them here in its state directory, or, without an agent, straight into the
local state directory. ``schedule run`` on that machine reads them: a
schedule with ``unless_busy`` defers a stop while the last report says busy
and is recent enough. Only the last report per instance is kept, in
``activity.json``; ``at`` is when it was recorded, by the recorder's clock. A
file that is not what was written raises StateDamaged and is never overwritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snoozebot.state import atomic_write_json, damaged, exclusive_lock, read_json

__all__ = ["ACTIVITY_FILE", "ActivityReport", "ActivityStore", "age_text"]

ACTIVITY_FILE = "activity.json"
_LOCK_SECONDS = 10.0


def age_text(seconds: float) -> str:
    """``just now``, ``3 min ago``, ``2 h ago``, ``4 d ago``; ``in the future`` for a negative age."""
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def _reading_text(name: str, reading: Mapping[str, Any]) -> str:
    value = reading.get("value")
    if not isinstance(value, int | float):
        return f"{name} failed"
    unit = str(reading.get("unit") or "")
    return f"{name} {value:g}{unit}" if unit == "%" else f"{name} {value:g} {unit}".rstrip()


@dataclass(frozen=True)
class ActivityReport:
    """One instance's last report: its verdict and readings, and when it was recorded."""

    provider: str
    instance_id: str
    at: dt.datetime
    idle: bool
    readings: dict[str, Any] = field(default_factory=dict)
    idle_since: dt.datetime | None = None

    def busy_within(self, now: dt.datetime, span: dt.timedelta) -> bool:
        """True when this report says busy and was recorded in ``[now - span, now]``."""
        return not self.idle and now - span <= self.at <= now

    def busy_readings(self) -> str:
        """The readings that made it busy, e.g. ``cpu 73%, sessions 1 users`` (empty when idle)."""
        busy = [
            _reading_text(name, r)
            for name, r in self.readings.items()
            if isinstance(r, Mapping) and r.get("idle") is False
        ]
        return ", ".join(busy)

    def describe(self, now: dt.datetime) -> str:
        """``busy 3 min ago: cpu 73%`` or ``idle 3 min ago``, as the instances page shows it."""
        age = age_text((now - self.at).total_seconds())
        if self.idle:
            return f"idle {age}"
        why = self.busy_readings()
        return f"busy {age}: {why}" if why else f"busy {age}"

    def to_dict(self) -> dict[str, Any]:
        """The stored and REST shape: ``{"provider", "id", "at", "idle", "idle_since", "readings"}``."""
        return {
            "provider": self.provider,
            "id": self.instance_id,
            "at": self.at.isoformat(),
            "idle": self.idle,
            "idle_since": self.idle_since.isoformat() if self.idle_since else None,
            "readings": self.readings,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ActivityReport | None:
        """A stored report, or None when it is damaged (a damaged report is no report)."""
        try:
            at = dt.datetime.fromisoformat(data["at"])
            since = dt.datetime.fromisoformat(data["idle_since"]) if data.get("idle_since") else None
            readings = data.get("readings") or {}
            if at.tzinfo is None or not isinstance(data["idle"], bool) or not isinstance(readings, dict):
                return None
            return cls(str(data["provider"]), str(data["id"]), at, data["idle"], readings, since)
        except (TypeError, KeyError, ValueError, AttributeError):
            return None


class ActivityStore:
    """``activity.json`` in a state directory: the last report of each instance."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ACTIVITY_FILE
        self._lock_path = directory / "activity.lock"

    def _all(self) -> dict[str, Any]:
        """Every report by provider and id; StateDamaged when the file is not what we wrote."""
        data = read_json(self.path, {"reports": {}})
        reports = data.get("reports") if isinstance(data, dict) else None
        if not isinstance(reports, dict) or not all(isinstance(v, dict) for v in reports.values()):
            raise damaged(self.path, 'expected {"reports": {PROVIDER: {ID: REPORT}}}')
        return reports

    def record(self, report: ActivityReport) -> None:
        """Keep ``report`` as its instance's last one."""
        with exclusive_lock(self._lock_path, timeout=_LOCK_SECONDS, what="the activity reports"):
            reports = self._all()
            per_provider = dict(reports.get(report.provider, {}))
            per_provider[report.instance_id] = report.to_dict()
            reports[report.provider] = per_provider
            atomic_write_json(self.path, {"reports": reports})

    def for_provider(self, provider: str) -> dict[str, ActivityReport]:
        """The last report of each instance of ``provider``, by instance id."""
        found: dict[str, ActivityReport] = {}
        for iid, value in self._all().get(provider, {}).items():
            report = ActivityReport.from_dict(value)  # a damaged entry is no report
            if report is not None and report.instance_id == iid and report.provider == provider:
                found[iid] = report
        return found

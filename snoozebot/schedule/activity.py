"""Activity reports: what ``idle check --report`` saw on an instance, kept per instance (docs/schedules.md).

An instance reports its readings and verdict either to the agent
(``POST /api/instances/{provider}/{id}/activity``, docs/rest.md) or, without
an agent, straight into the state store of the machine it runs on. Either way
the report lands in the state store (``activity_reports``; with a database,
docs/shared-state.md, every machine sees it). ``schedule run`` reads them: a
schedule with ``unless_busy`` defers a stop while the last report says busy
and is recent enough. Only the last report per instance is kept; ``at`` is
when it was recorded, by the recorder's clock. The ``activity.json`` of an
older snoozebot is imported once; a damaged one raises StateDamaged and is
left as it is."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snoozebot.errors import StateUnwritable
from snoozebot.state import damaged, read_json, unwritable
from snoozebot.store import Session, Store, open_store

__all__ = ["ACTIVITY_FILE", "ActivityReport", "ActivityStore", "age_text"]

ACTIVITY_FILE = "activity.json"
"""Where an older snoozebot kept the reports, in the state directory: imported once, then renamed."""


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
    """The last report of each instance, in a state store (an older ``activity.json`` imported once)."""

    def __init__(self, store: Store, *, legacy: Path | None = None) -> None:
        self.store = store
        self._legacy = legacy

    @classmethod
    def in_directory(cls, state_directory: Path, *, store: Store | None = None) -> ActivityStore:
        """The reports of a state directory's installation (``store`` None: the one configured)."""
        chosen = store if store is not None else open_store(state_directory)
        return cls(chosen, legacy=state_directory / ACTIVITY_FILE)

    def record(self, report: ActivityReport) -> None:
        """Keep ``report`` as its instance's last one."""
        self._import_legacy()
        with self.store.session(consequence="the report was not kept") as db:
            db.execute(_UPSERT, _row(report))

    def for_provider(self, provider: str) -> dict[str, ActivityReport]:
        """The last report of each instance of ``provider``, by instance id."""
        unimported: list[ActivityReport] = []
        try:
            self._import_legacy()
        except StateUnwritable:  # a read-only directory: its old file is read beside the store
            unimported = _legacy_reports(self._legacy) if self._legacy else []

        def query(db: Session) -> list[tuple[Any, ...]]:
            return db.execute(
                "SELECT provider, instance, at, idle, idle_since, readings FROM activity_reports"
                " WHERE provider = ?",
                (provider,),
            )

        nothing: list[tuple[Any, ...]] = []
        found: dict[str, ActivityReport] = {}
        for report in [*unimported, *map(_report, self.store.read(query, empty=nothing))]:
            if report is None or report.provider != provider:  # a damaged row is no report
                continue
            kept = found.get(report.instance_id)
            if kept is None or kept.at < report.at:
                found[report.instance_id] = report
        return found

    def _import_legacy(self) -> None:
        """Copy an older snoozebot's ``activity.json`` into the store, then rename it ``.imported``.

        A report stored since wins over the file's; a damaged file raises
        StateDamaged and is left as it is.
        """
        if self._legacy is None or not self._legacy.exists():
            return
        reports = _legacy_reports(self._legacy)
        with self.store.session(consequence=f"{self._legacy} was not imported") as db, db.transaction():
            db.execute_many(_UPSERT + " WHERE activity_reports.at < excluded.at", [_row(r) for r in reports])
        try:
            self._legacy.rename(self._legacy.with_name(ACTIVITY_FILE + ".imported"))
        except FileNotFoundError:
            pass  # another process imported it at the same time
        except OSError as exc:
            raise unwritable(self._legacy, exc, consequence="it was imported, and will be again") from None
        self._legacy = None


_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
"""Fixed width, UTC: the text order is the time order."""

_UPSERT = (
    "INSERT INTO activity_reports (provider, instance, at, idle, idle_since, readings)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, instance) DO UPDATE"
    " SET at = excluded.at, idle = excluded.idle, idle_since = excluded.idle_since,"
    " readings = excluded.readings"
)


def _stored(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_FORMAT)


def _row(report: ActivityReport) -> tuple[Any, ...]:
    """The stored row of ``report``, as ``_UPSERT`` takes it."""
    since = _stored(report.idle_since) if report.idle_since else None
    readings = json.dumps(report.readings)
    return (report.provider, report.instance_id, _stored(report.at), int(report.idle), since, readings)


def _report(row: tuple[Any, ...]) -> ActivityReport | None:
    """The report of a stored row; None when it is damaged."""
    provider, instance, at, idle, since, readings = row
    try:
        data = json.loads(readings)
    except (TypeError, ValueError):
        return None
    doc = {"provider": provider, "id": instance, "at": at, "idle": bool(idle), "idle_since": since}
    return ActivityReport.from_dict({**doc, "readings": data})


def _legacy_reports(path: Path) -> list[ActivityReport]:
    """The reports of ``activity.json``; StateDamaged when the file is not what an older snoozebot wrote."""
    data = read_json(path, {"reports": {}})
    reports = data.get("reports") if isinstance(data, dict) else None
    if not isinstance(reports, dict) or not all(isinstance(v, dict) for v in reports.values()):
        raise damaged(path, 'expected {"reports": {PROVIDER: {ID: REPORT}}}')
    found = []
    for provider, per_instance in reports.items():
        for iid, value in per_instance.items():
            report = ActivityReport.from_dict(value)  # a damaged entry is no report
            if report is not None and (report.provider, report.instance_id) == (provider, iid):
                found.append(report)
    return found

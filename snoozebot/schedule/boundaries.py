"""Where a schedule's on/off boundaries fall in absolute time.

Pure functions of a :class:`~snoozebot.schedule.grammar.Schedule` and aware
datetimes, so tests drive them with any clock. The rules (docs/schedules.md):

- a period whose stop is earlier than its start ends on the next day;
- a cron period makes a boundary at every local minute its expression matches;
- start boundaries on a skip date (``skip_dates`` or a calendar's) do not exist;
- a stop and a start at the same minute: only the stop exists;
- a local time that does not exist (daylight saving gap) happens at the first
  minute after the gap; a repeated local time happens once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from snoozebot.schedule.grammar import Schedule

__all__ = [
    "Boundary",
    "BoundaryAction",
    "boundaries_between",
    "latest_boundary",
    "local_to_utc",
    "next_boundaries",
    "next_skipped_dates",
]

BoundaryAction = Literal["start", "stop"]

_UTC = dt.UTC
_ONE_MINUTE = dt.timedelta(minutes=1)
_MAX_GAP_MINUTES = 2 * 24 * 60  # the longest zone gap on record is one day (Samoa, 2011)
_SHOW_HORIZON_DAYS = 400


@dataclass(frozen=True, order=True)
class Boundary:
    """One boundary: the instant (UTC) and what it does."""

    at: dt.datetime
    action: BoundaryAction

    def local(self, zone: ZoneInfo) -> dt.datetime:
        """The instant in the schedule's zone."""
        return self.at.astimezone(zone)


def _exists(local: dt.datetime, zone: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(_UTC).astimezone(zone).replace(tzinfo=None) == local


def local_to_utc(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A naive wall-clock time in ``zone`` as a UTC instant.

    A repeated time (clocks going back) is its first occurrence; a time in a
    gap (clocks going forward) is the first minute after the gap.
    """
    naive = local.replace(tzinfo=None, second=0, microsecond=0)
    probe = naive
    for _ in range(_MAX_GAP_MINUTES):
        if _exists(probe, zone):
            return probe.replace(tzinfo=zone, fold=0).astimezone(_UTC)
        probe += _ONE_MINUTE
    raise ValueError(f"no valid local time near {naive.isoformat()} in {zone.key}")


def _dates(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _candidates(schedule: Schedule, first: dt.date, last: dt.date) -> set[Boundary]:
    zone = schedule.timezone
    found: set[Boundary] = set()
    for day in _dates(first, last):
        for period in schedule.periods:
            if day.weekday() not in period.days:
                continue
            if period.start is not None and not schedule.skips(day):
                found.add(Boundary(local_to_utc(dt.datetime.combine(day, period.start), zone), "start"))
            if period.stop is not None:
                stop_day = day + dt.timedelta(days=1) if period.overnight else day
                found.add(Boundary(local_to_utc(dt.datetime.combine(stop_day, period.stop), zone), "stop"))
    begin, end = dt.datetime.combine(first, dt.time()), dt.datetime.combine(last, dt.time(23, 59))
    for cron in schedule.crons:
        for local in cron.local_times(begin, end):
            if cron.action == "stop" or not schedule.skips(local.date()):
                found.add(Boundary(local_to_utc(local, zone), cron.action))
    stops = {b.at for b in found if b.action == "stop"}
    return {b for b in found if b.action == "stop" or b.at not in stops}


def boundaries_between(schedule: Schedule, after: dt.datetime, until: dt.datetime) -> list[Boundary]:
    """Boundaries with ``after < at <= until``, oldest first (both bounds must be aware)."""
    if after.tzinfo is None or until.tzinfo is None:
        raise ValueError("boundaries_between needs timezone-aware datetimes")
    if until <= after:
        return []
    zone = schedule.timezone
    # One extra day each side: overnight stops land on the next local day, and gaps shift times.
    first = after.astimezone(zone).date() - dt.timedelta(days=1)
    last = until.astimezone(zone).date() + dt.timedelta(days=1)
    return sorted(b for b in _candidates(schedule, first, last) if after < b.at <= until)


@functools.lru_cache(maxsize=256)
def latest_boundary(schedule: Schedule, after: dt.datetime, until: dt.datetime) -> Boundary | None:
    """The boundary that decides a run over the window ``(after, until]``, if any.

    Cached: a run asks the same question for every instance on the same schedule.
    """
    found = boundaries_between(schedule, after, until)
    return found[-1] if found else None


def next_boundaries(schedule: Schedule, after: dt.datetime, *, count: int) -> list[Boundary]:
    """The next ``count`` boundaries after ``after`` (fewer if the schedule has none for a year)."""
    found: list[Boundary] = []
    horizon = after
    step = dt.timedelta(days=8)
    while len(found) < count and horizon - after < dt.timedelta(days=_SHOW_HORIZON_DAYS):
        found += boundaries_between(schedule, horizon, horizon + step)
        horizon += step
    return found[:count]


def next_skipped_dates(
    schedule: Schedule, after: dt.datetime, *, count: int
) -> list[tuple[dt.date, list[str]]]:
    """The next ``count`` skip dates from ``after``'s local date on, each with where it comes from."""
    first = after.astimezone(schedule.timezone).date()
    found: list[tuple[dt.date, list[str]]] = []
    for day in _dates(first, first + dt.timedelta(days=_SHOW_HORIZON_DAYS)):
        if len(found) >= count:
            break
        if schedule.skips(day):
            found.append((day, schedule.skip_sources(day)))
    return found

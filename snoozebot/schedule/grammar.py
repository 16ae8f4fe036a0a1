"""The ``[schedules.NAME]`` tables of the config file (docs/schedules.md).

::

    [schedules.office-hours]
    timezone = "Europe/Berlin"
    periods = [
      { days = "mon-fri", start = "08:00", stop = "19:00" },
      { days = "sat", stop = "13:00" },
    ]
    skip_dates = ["2026-12-24", "2026-12-25"]

Second edition (docs/schedules.md): cron periods beside the day/time ones
(:mod:`.cron`), ``calendars = ["NAME", ...]`` naming ``[calendars.NAME]``
tables (:mod:`.calendars`) whose dates act as skip dates, and
``unless_busy = "30m"`` (busy-aware stops, :mod:`.activity`).

Every problem is a :class:`~snoozebot.errors.UsageError` (exit 2) naming the
schedule and the offending value, raised before anything runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from snoozebot.errors import UsageError
from snoozebot.schedule.calendars import Calendar, parse_calendar, parse_date
from snoozebot.schedule.cron import CronPeriod, parse_cron_period

__all__ = [
    "OPT_OUT",
    "Period",
    "Schedule",
    "load_schedules",
    "parse_days",
    "parse_schedule",
    "parse_time",
]

OPT_OUT = "never"
"""The ``snoozebot-schedule`` value that opts an instance out for good (not a schedule name)."""

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {
    "daily": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_SCHEDULE_KEYS = ("timezone", "periods", "skip_dates", "calendars", "unless_busy")
_PERIOD_KEYS = {"days", "start", "stop"}


@dataclass(frozen=True)
class Period:
    """Days of the week (0 = Monday) with a start and/or a stop time, local to the schedule."""

    days: frozenset[int]
    start: dt.time | None
    stop: dt.time | None

    @property
    def overnight(self) -> bool:
        """True when the stop is earlier than the start: the period ends on the next day."""
        return self.start is not None and self.stop is not None and self.stop < self.start


@dataclass(frozen=True)
class Schedule:
    """A named schedule: its zone, its periods, the dates whose starts are skipped, and its busy span."""

    name: str
    timezone: ZoneInfo
    periods: tuple[Period, ...]
    skip_dates: frozenset[dt.date]
    crons: tuple[CronPeriod, ...] = ()
    calendars: tuple[Calendar, ...] = ()
    unless_busy: dt.timedelta | None = None

    def skips(self, day: dt.date) -> bool:
        """True when start boundaries on ``day`` (a local date) do not exist."""
        return day in self.skip_dates or any(c.covers(day) for c in self.calendars)

    def skip_sources(self, day: dt.date) -> list[str]:
        """Why ``day`` is skipped: ``skip_dates`` and/or the names of the calendars that hold it."""
        own = ["skip_dates"] if day in self.skip_dates else []
        return own + [c.name for c in self.calendars if c.covers(day)]


def _day(token: str, where: str) -> int:
    try:
        return _DAY_NAMES.index(token)
    except ValueError:
        raise UsageError(
            f"{where}: unknown day {token!r} (use mon..sun, ranges like mon-fri, daily, weekdays, weekends)"
        ) from None


def parse_days(text: str, *, where: str = "days") -> frozenset[int]:
    """``mon``, ``mon-fri`` (wrapping ``fri-mon``), ``mon,wed``, ``daily``, ``weekdays``, ``weekends``."""
    days: set[int] = set()
    items = [item.strip().lower() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise UsageError(f"{where}: empty day in {text!r}")
    for item in items:
        if item in _DAY_SETS:
            days |= _DAY_SETS[item]
        elif "-" in item:
            first, _, last = (part.strip() for part in item.partition("-"))
            begin, end = _day(first, where), _day(last, where)
            span = (end - begin) % 7
            days |= {(begin + i) % 7 for i in range(span + 1)}
        else:
            days.add(_day(item, where))
    return frozenset(days)


def parse_time(value: Any, *, where: str) -> dt.time:
    """``"HH:MM"`` on a 24-hour clock (a TOML local time with zero seconds is accepted too)."""
    if isinstance(value, dt.time) and value.second == 0 and value.microsecond == 0 and value.tzinfo is None:
        return value
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise UsageError(f"{where}: bad time {value!r} (expected HH:MM, 24 h)")
    return dt.time(int(match[1]), int(match[2]))


def _parse_zone(value: Any, *, where: str) -> ZoneInfo:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: timezone is required (an IANA name such as Europe/Berlin)")
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"{where}: unknown time zone {value!r} (expected an IANA name like Europe/Berlin)"
        ) from None


def _parse_period(value: Any, *, where: str) -> Period | CronPeriod:
    if not isinstance(value, Mapping):
        raise UsageError(f'{where}: a period must be a table like {{ days = "mon-fri", stop = "19:00" }}')
    if "cron" in value or "action" in value:
        return parse_cron_period(value, where=where)
    unknown = sorted(set(value) - _PERIOD_KEYS)
    if unknown:
        raise UsageError(
            f"{where}: unknown key {unknown[0]!r} (allowed: days, start, stop; or cron, action)"
        )
    days = value.get("days")
    if not isinstance(days, str):
        raise UsageError(f'{where}: days is required, a string such as "mon-fri"')
    start = parse_time(value["start"], where=f"{where}.start") if "start" in value else None
    stop = parse_time(value["stop"], where=f"{where}.stop") if "stop" in value else None
    if start is None and stop is None:
        raise UsageError(f"{where}: a period needs a start, a stop, or both")
    return Period(parse_days(days, where=f"{where}.days"), start, stop)


def _unless_busy(value: Any, *, where: str) -> dt.timedelta:
    from snoozebot.idle.settings import parse_naptime

    try:
        span = parse_naptime(value)
    except UsageError:
        raise UsageError(
            f"{where} unless_busy: not a duration: {value!r} (expected e.g. 30m, 2h, 90s, or minutes)"
        ) from None
    if span <= dt.timedelta(0):
        raise UsageError(f"{where} unless_busy: must be longer than 0 (e.g. 30m)")
    return span


def _calendars(value: Any, known: Mapping[str, Calendar], *, where: str) -> tuple[Calendar, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f'{where} calendars: must be a list of calendar names, e.g. ["holidays"]')
    for name in value:
        if name not in known:
            names = ", ".join(sorted(known)) or "none configured"
            raise UsageError(f"{where} calendars: unknown calendar {name!r} (known: {names})")
    return tuple(known[name] for name in dict.fromkeys(value))


def parse_schedule(
    name: str, table: Any, *, source: str = "schedules", calendars: Mapping[str, Calendar] | None = None
) -> Schedule:
    """One ``[schedules.NAME]`` table; a UsageError names the schedule and the problem."""
    where = f"{source}: [schedules.{name}]"
    if name.lower() == OPT_OUT:
        raise UsageError(f"{where}: {OPT_OUT!r} is reserved (snoozebot-schedule={OPT_OUT} opts out)")
    if not isinstance(table, Mapping):
        raise UsageError(f"{where} must be a table")
    unknown = sorted(set(table) - set(_SCHEDULE_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(_SCHEDULE_KEYS)})")
    zone = _parse_zone(table.get("timezone"), where=where)
    periods = table.get("periods")
    if not isinstance(periods, list) or not periods:
        raise UsageError(f"{where}: periods must be a non-empty list")
    skip = table.get("skip_dates", [])
    if not isinstance(skip, list):
        raise UsageError(f"{where}: skip_dates must be a list of YYYY-MM-DD dates")
    parsed = [_parse_period(p, where=f"{where} periods[{i}]") for i, p in enumerate(periods)]
    return Schedule(
        name=name,
        timezone=zone,
        periods=tuple(p for p in parsed if isinstance(p, Period)),
        skip_dates=frozenset(parse_date(d, where=f"{where} skip_dates") for d in skip),
        crons=tuple(p for p in parsed if isinstance(p, CronPeriod)),
        calendars=_calendars(table.get("calendars", []), calendars or {}, where=where),
        unless_busy=_unless_busy(table["unless_busy"], where=where) if "unless_busy" in table else None,
    )


def _load_calendars(
    table: Mapping[str, Any], schedules: Mapping[str, Any], *, source: str, base: Path
) -> dict[str, Calendar]:
    """Every ``[calendars.NAME]``; an error names the schedules that use the calendar."""
    loaded: dict[str, Calendar] = {}
    for name, value in table.items():
        users = [
            f"[schedules.{s}] calendars"
            for s, t in schedules.items()
            if isinstance(t, Mapping) and isinstance(t.get("calendars"), list) and name in t["calendars"]
        ]
        used = f" (used by {', '.join(users)})" if users else ""
        loaded[name] = parse_calendar(name, value, base=base, where=f"{source}: [calendars.{name}]{used}")
    return loaded


def load_schedules(
    table: Mapping[str, Any],
    *,
    source: str = "config",
    calendars: Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> dict[str, Schedule]:
    """Every schedule of the ``[schedules]`` table, and the calendars they name, all validated up front.

    ``base`` is the directory relative ``ics`` paths start from (the config file's; default: the
    current directory).
    """
    known = _load_calendars(calendars or {}, table, source=source, base=base or Path.cwd())
    return {name: parse_schedule(name, v, source=source, calendars=known) for name, v in table.items()}

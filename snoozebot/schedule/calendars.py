"""Shared holiday calendars: ``[calendars.NAME]`` with ``dates`` and/or ``ics`` (docs/schedules.md#calendars).

::

    [calendars.berlin-holidays]
    dates = ["2026-12-24", "2026-12-31"]
    ics = "holidays/berlin.ics"          # relative to the config file

A schedule naming ``calendars = ["berlin-holidays"]`` skips the start
boundaries on every date of the calendar, as if they were its ``skip_dates``.

From an iCalendar file only all-day events count (``DTSTART;VALUE=DATE``):
each day an event covers is a date (``DTEND`` is exclusive, as the RFC says);
an event with an ``RRULE`` recurs, expanded year by year on demand (so any
year a run or ``--now`` looks at is covered) minus its ``EXDATE``s, plus its
``RDATE``s; cancelled events and events with a time of day are ignored.
``icalendar`` is imported only when a calendar has an ``ics`` file.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snoozebot.errors import UsageError

__all__ = ["CALENDAR_KEYS", "Calendar", "RecurringEvent", "parse_calendar", "parse_date"]

CALENDAR_KEYS = frozenset({"dates", "ics"})


def parse_date(value: Any, *, where: str) -> dt.date:
    """A ``"YYYY-MM-DD"`` string or a TOML date."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise UsageError(f"{where}: bad date {value!r} (expected YYYY-MM-DD)")


@dataclass(frozen=True)
class RecurringEvent:
    """An all-day event with an ``RRULE``: its rule text, first day, length in days and exceptions."""

    rule: str
    start: dt.date
    days: int
    exdates: frozenset[dt.date] = frozenset()

    def dates_in_year(self, year: int) -> frozenset[dt.date]:
        """Every date of ``year`` that an occurrence covers."""
        return _year_dates(self, year)


@functools.lru_cache(maxsize=64)
def _rule(event: RecurringEvent) -> Any:
    from dateutil.rrule import rrulestr

    return rrulestr(event.rule, dtstart=dt.datetime.combine(event.start, dt.time()))


# Cached: every day a boundary computation looks at asks for its year again. The next
# 100 boundaries of a schedule with a yearly event take 1.6 ms with it, 50 ms without.
@functools.lru_cache(maxsize=1024)
def _year_dates(event: RecurringEvent, year: int) -> frozenset[dt.date]:
    first = dt.datetime(year, 1, 1) - dt.timedelta(days=event.days - 1)
    last = dt.datetime(year, 12, 31)
    found: set[dt.date] = set()
    for occurrence in _rule(event).between(first, last, inc=True):
        day = occurrence.date()
        if day in event.exdates:
            continue
        found.update(day + dt.timedelta(days=i) for i in range(event.days))
    return frozenset(d for d in found if d.year == year)


@dataclass(frozen=True)
class Calendar:
    """A named set of dates: fixed ones, plus recurring all-day events."""

    name: str
    dates: frozenset[dt.date] = frozenset()
    recurring: tuple[RecurringEvent, ...] = ()

    def covers(self, day: dt.date) -> bool:
        """True when ``day`` is one of the calendar's dates."""
        return day in self.dates or any(day in event.dates_in_year(day.year) for event in self.recurring)


def _all_day(value: Any) -> dt.date | None:
    """The date of an iCalendar date property, or None for a date-time (or nothing)."""
    when = getattr(value, "dt", None)
    return when if isinstance(when, dt.date) and not isinstance(when, dt.datetime) else None


def _listed_dates(value: Any) -> set[dt.date]:
    """The dates of ``EXDATE``/``RDATE`` properties (one, or a list of them)."""
    found: set[dt.date] = set()
    for prop in value if isinstance(value, list) else [value]:
        for item in getattr(prop, "dts", []):
            when = item.dt
            found.add(when.date() if isinstance(when, dt.datetime) else when)
    return found


def _length(event: Any, start: dt.date) -> int:
    end = _all_day(event.get("DTEND"))
    if end is not None:
        return max(1, (end - start).days)
    duration = getattr(event.get("DURATION"), "dt", None)
    if isinstance(duration, dt.timedelta):
        return max(1, duration.days)
    return 1


def _rule_text(recur: Any) -> str:
    """The ``RRULE`` as text, its ``UNTIL`` as a date so dateutil takes it with a date start."""
    parts = dict(recur)
    until = parts.get("UNTIL")
    if until:
        when = until[0]
        parts["UNTIL"] = [when.date() if isinstance(when, dt.datetime) else when]
    from icalendar import vRecur

    encoded: Any = vRecur(parts)  # its to_ical() is untyped
    return str(encoded.to_ical().decode())


def _read(path: Path, *, where: str) -> Any:
    """The parsed VCALENDAR of ``path``; a UsageError when it cannot be read or parsed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{where}: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    try:
        import icalendar
    except ImportError:  # pragma: no cover - a core dependency; a broken install
        raise UsageError(f"{where}: reading an ics file needs the icalendar package") from None
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # untrusted input: icalendar raises ValueError, and worse on garbage
        raise UsageError(f"{where}: {str(path)!r} is not a valid iCalendar file: {exc}") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise UsageError(f"{where}: {str(path)!r} is not a valid iCalendar file: no VCALENDAR")
    return calendar


def _recurring(event: Any, start: dt.date, days: int, *, where: str) -> list[RecurringEvent]:
    from icalendar import vRecur

    rules = event.get("RRULE")
    exdates = frozenset(_listed_dates(event.get("EXDATE", [])))
    found = []
    for recur in rules if isinstance(rules, list) else [rules]:
        if not isinstance(recur, vRecur):
            problem = getattr(recur, "parse_error", None) or recur
            raise UsageError(f"{where}: bad RRULE in event {str(event.get('UID', '?'))!r}: {problem}")
        repeat = RecurringEvent(_rule_text(recur), start, days, exdates)
        try:
            repeat.dates_in_year(start.year)
        except (ValueError, TypeError, OverflowError) as exc:
            raise UsageError(f"{where}: bad RRULE {repeat.rule!r}: {exc}") from None
        found.append(repeat)
    return found


def _events(path: Path, *, where: str) -> tuple[set[dt.date], list[RecurringEvent]]:
    """The fixed dates and the recurring all-day events of an iCalendar file."""
    calendar = _read(path, where=where)
    dates: set[dt.date] = set()
    recurring: list[RecurringEvent] = []
    try:
        for event in calendar.walk("VEVENT"):
            start = _all_day(event.get("DTSTART"))
            if start is None or str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            days = _length(event, start)
            if event.get("RRULE") is None:
                dates.update(start + dt.timedelta(days=i) for i in range(days))
                continue
            recurring += _recurring(event, start, days, where=f"{where}: {str(path)!r}")
            dates.update(_listed_dates(event.get("RDATE", [])))
    except UsageError:
        raise
    except Exception as exc:  # a broken property anywhere else (icalendar keeps them lazily)
        raise UsageError(f"{where}: {str(path)!r} is not a valid iCalendar file: {exc}") from None
    return dates, recurring


def parse_calendar(name: str, table: Any, *, base: Path, where: str) -> Calendar:
    """One ``[calendars.NAME]`` table; relative ``ics`` paths are relative to ``base``."""
    if not isinstance(table, Mapping):
        raise UsageError(f"{where} must be a table")
    unknown = sorted(set(table) - CALENDAR_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (allowed: dates, ics)")
    if not CALENDAR_KEYS & set(table):
        raise UsageError(f"{where}: a calendar needs dates, ics, or both")
    listed = table.get("dates", [])
    if not isinstance(listed, list):
        raise UsageError(f"{where} dates: must be a list of YYYY-MM-DD dates")
    dates = {parse_date(d, where=f"{where} dates") for d in listed}
    recurring: Iterable[RecurringEvent] = ()
    if "ics" in table:
        ics = table["ics"]
        if not isinstance(ics, str) or not ics.strip():
            raise UsageError(f"{where} ics: must be the path of an iCalendar file")
        path = Path(ics.strip()).expanduser()
        found, recurring = _events(path if path.is_absolute() else base / path, where=f"{where} ics")
        dates |= found
    return Calendar(name, frozenset(dates), tuple(recurring))

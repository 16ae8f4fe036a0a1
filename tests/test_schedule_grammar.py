"""The [schedules.NAME] grammar: days, times, zones, skip dates; every problem is a UsageError."""

from __future__ import annotations

import datetime as dt

import pytest

from snoozebot.config import load_config
from snoozebot.errors import UsageError
from snoozebot.schedule.grammar import load_schedules, parse_days, parse_schedule, parse_time

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon", {MON}),
        ("Mon", {MON}),
        ("mon-fri", {MON, TUE, WED, THU, FRI}),
        ("fri-mon", {FRI, SAT, SUN, MON}),
        ("sun-sun", {SUN}),
        ("mon,wed", {MON, WED}),
        ("mon, wed ,fri", {MON, WED, FRI}),
        ("mon-tue,sat", {MON, TUE, SAT}),
        ("daily", set(range(7))),
        ("weekdays", {MON, TUE, WED, THU, FRI}),
        ("weekends", {SAT, SUN}),
        ("weekends,mon", {SAT, SUN, MON}),
    ],
)
def test_days(text: str, days: set[int]) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", "monday", "mon-", "mon,,tue", "xyz-fri", "mo"])
def test_bad_days(text: str) -> None:
    with pytest.raises(UsageError):
        parse_days(text)


def test_times() -> None:
    assert parse_time("08:00", where="x") == dt.time(8, 0)
    assert parse_time("8:05", where="x") == dt.time(8, 5)
    assert parse_time("23:59", where="x") == dt.time(23, 59)
    assert parse_time(dt.time(7, 30), where="x") == dt.time(7, 30)


@pytest.mark.parametrize("value", ["24:00", "08:60", "8am", "08:00:00", "0800", 800, dt.time(8, 0, 30)])
def test_bad_times(value: object) -> None:
    with pytest.raises(UsageError, match="bad time"):
        parse_time(value, where="x")


def test_full_schedule() -> None:
    s = parse_schedule(
        "office-hours",
        {
            "timezone": "Europe/Berlin",
            "periods": [{"days": "mon-fri", "start": "08:00", "stop": "19:00"}, {"days": "sat", "stop": "13:00"}],
            "skip_dates": ["2026-12-24", dt.date(2026, 12, 25)],
        },
    )
    assert s.timezone.key == "Europe/Berlin"
    assert s.periods[1].start is None and s.periods[1].stop == dt.time(13, 0)
    assert s.skip_dates == {dt.date(2026, 12, 24), dt.date(2026, 12, 25)}
    assert not s.periods[0].overnight


def test_overnight_period() -> None:
    s = parse_schedule("night", {"timezone": "UTC", "periods": [{"days": "daily", "start": "22:00", "stop": "06:00"}]})
    assert s.periods[0].overnight


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"periods": [{"days": "mon", "stop": "19:00"}]}, "timezone is required"),
        ({"timezone": "Mars/Olympus", "periods": [{"days": "mon", "stop": "19:00"}]}, "unknown time zone 'Mars/Olympus'"),
        ({"timezone": "UTC"}, "periods must be a non-empty list"),
        ({"timezone": "UTC", "periods": []}, "periods must be a non-empty list"),
        ({"timezone": "UTC", "periods": [{"days": "mon"}]}, "needs a start, a stop, or both"),
        ({"timezone": "UTC", "periods": [{"stop": "19:00"}]}, "days is required"),
        ({"timezone": "UTC", "periods": [{"days": "mon", "stop": "25:00"}]}, r"periods\[0\].stop: bad time '25:00'"),
        ({"timezone": "UTC", "periods": [{"days": "funday", "stop": "19:00"}]}, "unknown day 'funday'"),
        ({"timezone": "UTC", "periods": [{"days": "mon", "stop": "19:00", "stpo": "1"}]}, "unknown key 'stpo'"),
        ({"timezone": "UTC", "periods": ["mon 19:00"]}, "a period must be a table"),
        ({"timezone": "UTC", "periods": [{"days": "mon", "stop": "19:00"}], "skip": []}, "unknown key 'skip'"),
        ({"timezone": "UTC", "periods": [{"days": "mon", "stop": "19:00"}], "skip_dates": ["24.12.2026"]}, "bad date"),
        ({"timezone": "UTC", "periods": [{"days": "mon", "stop": "19:00"}], "skip_dates": "2026-12-24"}, "skip_dates"),
    ],
)
def test_bad_schedules_name_the_problem(table: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_schedule("office", table)
    assert "[schedules.office]" in str(info.value)


def test_never_is_reserved() -> None:
    with pytest.raises(UsageError, match="reserved"):
        parse_schedule("never", {"timezone": "UTC", "periods": [{"days": "mon", "stop": "19:00"}]})


def test_from_toml_file(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        """
[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [
  { days = "mon-fri", start = "08:00", stop = "19:00" },
  { days = "sat", stop = 13:00:00 },
]
skip_dates = ["2026-12-24", 2026-12-25]

[schedules.night]
timezone = "America/New_York"
periods = [{ days = "daily", start = "22:00", stop = "06:00" }]
"""
    )
    schedules = load_schedules(load_config(path).table("schedules"))
    assert sorted(schedules) == ["night", "office-hours"]
    assert schedules["office-hours"].periods[1].stop == dt.time(13, 0)

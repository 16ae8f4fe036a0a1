"""Boundaries in absolute time: zones, weekends, overnight periods, skip dates, stop-wins, DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from snoozebot.schedule.boundaries import (
    Boundary,
    boundaries_between,
    latest_boundary,
    local_to_utc,
    next_boundaries,
)
from snoozebot.schedule.grammar import parse_schedule

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def office(**extra: object):
    return parse_schedule(
        "office-hours",
        {
            "timezone": "Europe/Berlin",
            "periods": [{"days": "mon-fri", "start": "08:00", "stop": "19:00"}, {"days": "sat", "stop": "13:00"}],
            **extra,
        },
    )


def test_a_winter_week_in_berlin() -> None:
    # Mon 2026-11-23 .. Sun 2026-11-29; Berlin is UTC+1 in winter.
    found = boundaries_between(office(), utc(2026, 11, 22, 23, 0), utc(2026, 11, 29, 23, 0))
    starts = [b.at for b in found if b.action == "start"]
    stops = [b.at for b in found if b.action == "stop"]
    assert starts == [utc(2026, 11, d, 7, 0) for d in range(23, 28)]
    assert stops == [*(utc(2026, 11, d, 18, 0) for d in range(23, 28)), utc(2026, 11, 28, 12, 0)]


def test_summer_time_shifts_the_utc_instant() -> None:
    found = boundaries_between(office(), utc(2026, 7, 6, 0, 0), utc(2026, 7, 6, 23, 0))  # a Monday
    assert found == [Boundary(utc(2026, 7, 6, 6, 0), "start"), Boundary(utc(2026, 7, 6, 17, 0), "stop")]


def test_window_is_open_at_the_start_and_closed_at_the_end() -> None:
    s = office()
    assert latest_boundary(s, utc(2026, 11, 23, 7, 0), utc(2026, 11, 23, 8, 0)) is None
    assert latest_boundary(s, utc(2026, 11, 23, 6, 59), utc(2026, 11, 23, 7, 0)) == Boundary(
        utc(2026, 11, 23, 7, 0), "start"
    )
    assert boundaries_between(s, utc(2026, 11, 23, 9, 0), utc(2026, 11, 23, 8, 0)) == []


def test_sunday_has_no_boundaries() -> None:
    assert boundaries_between(office(), utc(2026, 11, 28, 23, 0), utc(2026, 11, 29, 22, 59)) == []


def test_overnight_period_stops_on_the_next_day() -> None:
    night = parse_schedule("n", {"timezone": "UTC", "periods": [{"days": "fri", "start": "22:00", "stop": "06:00"}]})
    found = boundaries_between(night, utc(2026, 11, 27, 0, 0), utc(2026, 11, 30, 0, 0))
    assert found == [Boundary(utc(2026, 11, 27, 22, 0), "start"), Boundary(utc(2026, 11, 28, 6, 0), "stop")]
    # The stop of Thursday-night's period is not invented for a Friday-only schedule.
    assert boundaries_between(night, utc(2026, 11, 27, 0, 0), utc(2026, 11, 27, 12, 0)) == []


def test_skip_dates_remove_starts_but_keep_stops() -> None:
    s = office(skip_dates=["2026-12-24"])  # a Thursday
    found = boundaries_between(s, utc(2026, 12, 23, 23, 0), utc(2026, 12, 24, 23, 0))
    assert found == [Boundary(utc(2026, 12, 24, 18, 0), "stop")]


def test_stop_wins_over_a_start_in_the_same_minute() -> None:
    s = parse_schedule(
        "s",
        {
            "timezone": "UTC",
            "periods": [
                {"days": "mon", "start": "08:00", "stop": "12:00"},
                {"days": "mon", "start": "12:00", "stop": "18:00"},
            ],
        },
    )
    found = boundaries_between(s, utc(2026, 11, 23, 0, 0), utc(2026, 11, 23, 23, 0))
    assert found == [
        Boundary(utc(2026, 11, 23, 8, 0), "start"),
        Boundary(utc(2026, 11, 23, 12, 0), "stop"),
        Boundary(utc(2026, 11, 23, 18, 0), "stop"),
    ]


def test_a_missing_local_time_happens_at_the_first_minute_after_the_gap() -> None:
    # 2026-03-29: Berlin clocks jump from 02:00 to 03:00 (01:00 UTC).
    assert local_to_utc(dt.datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert local_to_utc(dt.datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert local_to_utc(dt.datetime(2026, 3, 29, 1, 59), BERLIN) == utc(2026, 3, 29, 0, 59)
    s = parse_schedule(
        "s", {"timezone": "Europe/Berlin", "periods": [{"days": "sun", "start": "02:30", "stop": "03:00"}]}
    )
    # The start is moved onto the stop's minute, and the stop wins.
    assert boundaries_between(s, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 12, 0)) == [
        Boundary(utc(2026, 3, 29, 1, 0), "stop")
    ]


def test_a_repeated_local_time_happens_once() -> None:
    # 2026-10-25: Berlin clocks go back from 03:00 to 02:00; 02:30 happens twice.
    s = parse_schedule("s", {"timezone": "Europe/Berlin", "periods": [{"days": "sun", "stop": "02:30"}]})
    found = boundaries_between(s, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 12, 0))
    assert found == [Boundary(utc(2026, 10, 25, 0, 30), "stop")]


def test_new_york_dst_start() -> None:
    s = parse_schedule("s", {"timezone": "America/New_York", "periods": [{"days": "sun", "start": "02:15"}]})
    # 2026-03-08: New York jumps from 02:00 EST to 03:00 EDT (07:00 UTC).
    assert boundaries_between(s, utc(2026, 3, 8, 0, 0), utc(2026, 3, 9, 0, 0)) == [
        Boundary(utc(2026, 3, 8, 7, 0), "start")
    ]


def test_next_boundaries() -> None:
    s = office()
    found = next_boundaries(s, utc(2026, 11, 27, 12, 0), count=4)  # Friday noon UTC
    assert [(b.local(BERLIN).isoformat(), b.action) for b in found] == [
        ("2026-11-27T19:00:00+01:00", "stop"),
        ("2026-11-28T13:00:00+01:00", "stop"),
        ("2026-11-30T08:00:00+01:00", "start"),
        ("2026-11-30T19:00:00+01:00", "stop"),
    ]


def test_next_boundaries_of_a_rare_schedule() -> None:
    s = parse_schedule("s", {"timezone": "UTC", "periods": [{"days": "mon", "stop": "01:00"}], "skip_dates": []})
    assert len(next_boundaries(s, utc(2026, 1, 1, 0, 0), count=10)) == 10
    # Looking ahead is bounded (about 400 days): a weekly boundary appears at most 58 times.
    assert 52 <= len(next_boundaries(s, utc(2026, 1, 1, 0, 0), count=100)) <= 58

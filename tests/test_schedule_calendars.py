"""Shared calendars: `[calendars.NAME]` with dates and an iCalendar file, through the real CLI.

The `memory` fixture provider keeps its instances in a JSON file; the schedule
starts them at 08:00 on weekdays unless the day is in one of its calendars.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from snoozebot.errors import UsageError
from snoozebot.schedule.calendars import parse_calendar

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//snoozebot tests//EN
BEGIN:VEVENT
UID:christmas@test
SUMMARY:Christmas break (every year since 2020, not in 2029)
DTSTART;VALUE=DATE:20201224
DTEND;VALUE=DATE:20201227
RRULE:FREQ=YEARLY
EXDATE;VALUE=DATE:20291224
END:VEVENT
BEGIN:VEVENT
UID:between-the-years@test
SUMMARY:Closed between the years (four days)
DTSTART;VALUE=DATE:20261228
DTEND;VALUE=DATE:20270101
END:VEVENT
BEGIN:VEVENT
UID:meeting@test
SUMMARY:A meeting with a time of day is no holiday
DTSTART:20261130T100000Z
DTEND:20261130T110000Z
END:VEVENT
END:VCALENDAR
"""

CONFIG = """
[providers.memory]
state_file = "{state_file}"

[calendars.holidays]
ics = "holidays.ics"                 # relative to this file

[calendars.offsite]
dates = ["2026-12-07", 2026-12-08]

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
calendars = ["holidays", "offsite"]
skip_dates = ["2026-12-09"]
"""


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The config lives in its own folder with its ics file; the CLI runs from elsewhere."""
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "holidays.ics").write_text(ICS.replace("\n", "\r\n"))
    state_file = tmp_path / "instances.json"
    config = folder / "config.toml"
    config.write_text(CONFIG.format(state_file=state_file))
    monkeypatch.setenv("SNOOZEBOT_CONFIG", str(config))
    return state_file


def stopped_machine(state_file: Path) -> None:
    state_file.write_text(json.dumps({"m": {"state": "stopped", "tags": {"snoozebot-schedule": "office-hours"}}}))


def start_at(state_file: Path, when: str) -> dict[str, Any]:
    """One run at 08:05 local on ``when`` (a YYYY-MM-DD) over a stopped machine; its row."""
    stopped_machine(state_file)
    res = run_cli("schedule", "run", "-p", "memory", "--now", f"{when}T08:05:00+01:00", "--json")
    assert res.returncode == 0, res.stderr
    [row] = res.json()
    return row


@pytest.mark.parametrize(
    ("day", "action"),
    [
        ("2026-11-23", "start"),  # an ordinary Monday
        ("2026-11-30", "start"),  # a timed event is no holiday
        ("2026-12-07", "none"),   # offsite: a "YYYY-MM-DD" string
        ("2026-12-08", "none"),   # offsite: a TOML date
        ("2026-12-09", "none"),   # the schedule's own skip_dates still count
        ("2026-12-24", "none"),   # the recurring event, its first day
        ("2028-12-26", "none"),   # ... its last day, two years on
        ("2031-12-24", "none"),   # ... five years on
        ("2029-12-24", "start"),  # ... but not on its EXDATE
        ("2026-12-28", "none"),   # a four-day event: every day of it
        ("2026-12-31", "none"),
        ("2027-01-01", "start"),  # DTEND is exclusive
    ],
)
def test_calendar_dates_skip_the_start(fleet: Path, day: str, action: str) -> None:
    row = start_at(fleet, day)
    assert (row["action"], row["ok"]) == (action, True), row
    assert json.loads(fleet.read_text())["m"]["state"] == ("running" if action == "start" else "stopped")


def test_stops_still_happen_on_calendar_dates(fleet: Path) -> None:
    fleet.write_text(json.dumps({"m": {"state": "running", "tags": {"snoozebot-schedule": "office-hours"}}}))
    res = run_cli("schedule", "run", "-p", "memory", "--now", "2026-12-24T19:05:00+01:00", "--json")
    assert res.returncode == 0 and res.json()[0]["action"] == "stop"


def test_show_lists_the_next_skipped_dates_and_where_they_come_from(fleet: Path) -> None:
    res = run_cli("schedule", "show", "office-hours", "--now", "2026-12-06T12:00:00Z", "-n", "6", "--json")
    assert res.returncode == 0, res.stderr
    assert res.json()["skipped"] == [
        {"date": "2026-12-07", "from": ["offsite"]},
        {"date": "2026-12-08", "from": ["offsite"]},
        {"date": "2026-12-09", "from": ["skip_dates"]},
        {"date": "2026-12-24", "from": ["holidays"]},
        {"date": "2026-12-25", "from": ["holidays"]},
        {"date": "2026-12-26", "from": ["holidays"]},
    ]
    # The first start after the offsite days is Thursday the 10th.
    starts = [b["at"] for b in res.json()["next"] if b["action"] == "start"]
    assert starts[0] == "2026-12-10T08:00:00+01:00"
    text = run_cli("schedule", "show", "office-hours", "--now", "2026-12-06T12:00:00Z", "-n", "2")
    assert "Skipped dates" in text.stdout and "Mon 2026-12-07" in text.stdout and "offsite" in text.stdout


def test_an_absolute_ics_path_and_dates_together(tmp_path: Path) -> None:
    ics = tmp_path / "abs.ics"
    ics.write_text(ICS)
    cal = parse_calendar("c", {"ics": str(ics), "dates": ["2026-01-02"]}, base=Path("/nonexistent"), where="w")
    assert cal.covers(dt.date(2026, 1, 2)) and cal.covers(dt.date(2040, 12, 26))
    assert not cal.covers(dt.date(2040, 12, 27)) and not cal.covers(dt.date(2026, 11, 30))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "a calendar needs dates, ics, or both"),
        ({"dates": "2026-12-24"}, "dates: must be a list"),
        ({"dates": ["24.12.2026"]}, "bad date '24.12.2026'"),
        ({"ics": ""}, "ics: must be the path of an iCalendar file"),
        ({"url": "x"}, "unknown key 'url'"),
    ],
)
def test_bad_calendar_tables(table: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_calendar("c", table, base=Path("."), where="[calendars.c]")

"""Cron periods end to end: weekdays and weekends, Sunday as 0 or 7, daylight saving, stop wins.

The real CLI over the `memory` fixture provider, whose instances live in a JSON
file; `schedule explain` shows the next boundaries of either kind of period.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

CONFIG = """
[providers.memory]
state_file = "{state_file}"

[schedules.crons]
timezone = "Europe/Berlin"
periods = [
  {{ cron = "0 19 * * 1-5", action = "stop" }},       # weekday evenings
  {{ cron = "0 10 * * 0,6", action = "start" }},      # weekend mornings (0 = Sunday)
  {{ cron = "0 18 * * 7", action = "stop" }},         # Sunday evening (7 = Sunday too)
  {{ days = "mon-fri", start = "08:00" }},            # a day/time period beside them
]

[schedules.night]
timezone = "Europe/Berlin"
periods = [{{ cron = "30 2 * * *", action = "stop" }}]

[schedules.clash]
timezone = "UTC"
periods = [
  {{ cron = "0 12 * * *", action = "start" }},
  {{ days = "daily", stop = "12:00" }},
]
"""


@pytest.fixture
def fleet(tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state_file = tmp_path / "instances.json"
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(state_file=state_file))
    monkeypatch.setenv("SNOOZEBOT_CONFIG", str(config))
    return state_file


def put(state_file: Path, state: str, schedule: str = "crons") -> None:
    state_file.write_text(json.dumps({"m": {"state": state, "tags": {"snoozebot-schedule": schedule}}}))


def run_at(now: str) -> dict[str, Any]:
    res = run_cli("schedule", "run", "-p", "memory", "--now", now, "--json")
    assert res.returncode == 0, res.stderr
    [row] = res.json()
    return row


@pytest.mark.parametrize(
    ("state", "now", "action"),
    [
        ("running", "2026-11-23T19:05:00+01:00", "stop"),   # Monday 19:00
        ("running", "2026-11-27T19:05:00+01:00", "stop"),   # Friday 19:00
        ("running", "2026-11-28T19:05:00+01:00", "none"),   # Saturday: no weekday stop
        ("stopped", "2026-11-28T10:05:00+01:00", "start"),  # Saturday 10:00
        ("stopped", "2026-11-29T10:05:00+01:00", "start"),  # Sunday 10:00 (day 0)
        ("running", "2026-11-29T18:05:00+01:00", "stop"),   # Sunday 18:00 (day 7)
        ("stopped", "2026-11-25T10:05:00+01:00", "none"),   # Wednesday: no weekend start
        ("stopped", "2026-11-25T08:05:00+01:00", "start"),  # ... but the day/time start
    ],
)
def test_weekdays_and_weekends(fleet: Path, state: str, now: str, action: str) -> None:
    put(fleet, state)
    row = run_at(now)
    assert (row["action"], row["ok"]) == (action, True), row


def test_a_local_time_that_does_not_exist_happens_at_the_first_minute_after_it(fleet: Path) -> None:
    # 2027-03-28: Berlin jumps from 02:00 to 03:00, so 02:30 happens at 03:00 CEST (01:00 UTC).
    put(fleet, "running", "night")
    assert run_at("2027-03-28T00:59:00Z")["action"] == "none"
    assert run_at("2027-03-28T01:00:30Z")["action"] == "stop"


def test_a_repeated_local_time_happens_once(fleet: Path) -> None:
    # 2026-10-25: Berlin goes back from 03:00 to 02:00; 02:30 happens at 00:30 UTC, not again at 01:30.
    put(fleet, "running", "night")
    assert run_at("2026-10-25T00:35:00Z")["action"] == "stop"
    put(fleet, "running", "night")  # someone started it by hand
    assert run_at("2026-10-25T01:35:00Z")["action"] == "none"
    assert run_at("2026-10-26T01:35:00Z")["action"] == "stop"  # 02:30 CET the next day


def test_stop_wins_over_a_cron_start_in_the_same_minute(fleet: Path) -> None:
    put(fleet, "stopped", "clash")
    assert run_at("2026-11-23T12:05:00Z")["action"] == "none"
    put(fleet, "running", "clash")
    assert run_at("2026-11-24T12:05:00Z")["action"] == "stop"


def test_explain_and_show_give_the_next_boundaries_of_either_kind(fleet: Path) -> None:
    put(fleet, "running")
    res = run_cli("schedule", "explain", "m", "-p", "memory", "--now", "2026-11-27T18:00:00+01:00", "--json")
    assert res.returncode == 0, res.stderr
    assert res.json()["next"] == [
        {"action": "stop", "at": "2026-11-27T19:00:00+01:00"},   # cron, Friday
        {"action": "start", "at": "2026-11-28T10:00:00+01:00"},  # cron, Saturday
    ]
    res = run_cli("schedule", "show", "crons", "--now", "2026-11-29T12:00:00+01:00", "-n", "3", "--json")
    assert [b for b in res.json()["next"]] == [
        {"action": "stop", "at": "2026-11-29T18:00:00+01:00"},   # cron, Sunday as 7
        {"action": "start", "at": "2026-11-30T08:00:00+01:00"},  # day/time, Monday
        {"action": "stop", "at": "2026-11-30T19:00:00+01:00"},   # cron, Monday
    ]
    text = run_cli("schedule", "explain", "m", "-p", "memory", "--now", "2026-11-27T18:00:00+01:00")
    assert "next          stop at 2026-11-27T19:00:00+01:00" in text.stdout

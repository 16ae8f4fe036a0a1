"""`snoozebot schedule` end to end: the real CLI in subprocesses, the `memory` fixture provider.

The memory provider keeps its instances in a JSON file (`state_file`), so consecutive
CLI processes see each other's changes, and the test can play a person starting a
machine by hand between two cron runs. The tests marked ``both_backends`` (the audit log,
the previous-run records, the run lock) run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_workers, run_cli
from state_rows import previous_runs, select

from snoozebot.state import exclusive_lock

CONFIG = """
[providers.memory]
state_file = "{state_file}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [
  {{ days = "mon-fri", start = "08:00", stop = "19:00" }},
  {{ days = "sat", stop = "13:00" }},
]
skip_dates = ["2026-12-24"]
"""

MON_1905 = "2026-11-23T19:05:00+01:00"


@pytest.fixture
def fleet(tmp_path: Path, isolated_home: Path) -> Path:
    """A config with the office-hours schedule and a memory provider backed by a file."""
    state_file = tmp_path / "instances.json"
    config = Path(str(tmp_path / "config.toml"))
    config.write_text(CONFIG.format(state_file=state_file))
    return state_file


def seed(state_file: Path, instances: dict[str, dict[str, Any]]) -> None:
    state_file.write_text(json.dumps(instances))


def states(state_file: Path) -> dict[str, str]:
    return {iid: rec["state"] for iid, rec in json.loads(state_file.read_text()).items()}


def set_state(state_file: Path, iid: str, state: str) -> None:
    data = json.loads(state_file.read_text())
    data[iid]["state"] = state
    state_file.write_text(json.dumps(data))


def tagged(state: str = "running", **tags: str) -> dict[str, Any]:
    return {"state": state, "name": "m", "tags": {"snoozebot-schedule": "office-hours", **tags}}


def audit_rows(home: Path) -> list[tuple[str, str, str, str, int]]:
    return select(home, "SELECT instance, action, source, result, dry_run FROM attempts ORDER BY instance, id")


def schedule_run(*args: str) -> Any:
    return run_cli("schedule", "run", "-p", "memory", *args)


@pytest.mark.both_backends
def test_stop_boundary_stops_the_fleet_once_and_is_audited(fleet: Path, isolated_home: Path) -> None:
    res = schedule_run("--now", MON_1905, "--json")
    assert res.returncode == 0, res.stderr
    rows = res.json()
    assert rows == [
        {"id": f"mem-{i}", "provider": "memory", "schedule": "office-hours", "action": "stop", "ok": True, "error": None}
        for i in range(3)
    ]
    assert states(fleet) == {"mem-0": "stopped", "mem-1": "stopped", "mem-2": "stopped"}
    assert audit_rows(isolated_home) == [(f"mem-{i}", "stop", "schedule", "ok", 0) for i in range(3)]
    # Ten minutes later no boundary passed: nothing happens, nothing is audited.
    res = schedule_run("--now", "2026-11-23T19:15:00+01:00", "--json")
    assert res.returncode == 0, res.stderr
    assert {r["action"] for r in res.json()} == {"none"}
    assert len(audit_rows(isolated_home)) == 3
    assert leftover_workers(isolated_home) == []


@pytest.mark.both_backends
def test_manual_start_is_left_alone_until_the_next_boundary(fleet: Path) -> None:
    assert schedule_run("--now", MON_1905).returncode == 0
    set_state(fleet, "mem-1", "running")  # someone starts it by hand at 20:00
    res = schedule_run("--now", "2026-11-23T21:00:00+01:00", "--json")
    assert [r["action"] for r in res.json()] == ["none", "none", "none"]
    assert states(fleet)["mem-1"] == "running"
    # Tuesday 08:05: the start boundary starts the stopped ones; mem-1 is already running.
    res = schedule_run("--now", "2026-11-24T08:05:00+01:00", "--json")
    assert res.returncode == 0, res.stderr
    assert [r["action"] for r in res.json()] == ["start", "none", "start"]
    assert set(states(fleet).values()) == {"running"}


def test_missed_runs_catch_up(fleet: Path) -> None:
    assert schedule_run("--now", "2026-11-23T18:50:00+01:00").returncode == 0
    # Cron was down all night; the next run sees stop 19:00 and start 08:00: the start decides.
    res = schedule_run("--now", "2026-11-24T09:00:00+01:00", "--json")
    assert [r["action"] for r in res.json()] == ["none"] * 3
    # Down from Friday evening to Saturday afternoon: Friday 19:00 and Saturday 13:00 both stop.
    assert schedule_run("--now", "2026-11-27T18:00:00+01:00").returncode == 0
    res = schedule_run("--now", "2026-11-28T15:00:00+01:00", "--json")
    assert [r["action"] for r in res.json()] == ["stop"] * 3


@pytest.mark.both_backends
def test_dry_run_changes_nothing_and_keeps_the_window(fleet: Path, isolated_home: Path) -> None:
    res = schedule_run("--now", MON_1905, "--dry-run", "--json")
    assert res.returncode == 0, res.stderr
    assert [r["action"] for r in res.json()] == ["stop"] * 3
    assert set(states(fleet).values()) == {"running"}
    assert previous_runs(isolated_home) == {}
    # The real run afterwards still sees the same boundary.
    assert [r["action"] for r in schedule_run("--now", MON_1905, "--json").json()] == ["stop"] * 3


@pytest.mark.both_backends
def test_now_earlier_than_the_previous_run_moves_nothing_back(fleet: Path, isolated_home: Path) -> None:
    assert schedule_run("--now", MON_1905).returncode == 0
    recorded = previous_runs(isolated_home)
    assert list(recorded) == ["memory"]
    set_state(fleet, "mem-0", "running")
    res = schedule_run("--now", "2026-11-23T19:01:00+01:00", "--json")
    assert [r["action"] for r in res.json()] == ["none"] * 3
    assert previous_runs(isolated_home) == recorded


def test_tags_decide_per_instance_and_one_bad_instance_fails_alone(fleet: Path, isolated_home: Path) -> None:
    seed(
        fleet,
        {
            "a-ok": tagged(),
            "b-optout": tagged(**{"snoozebot-schedule": "never"}),
            "c-typo": tagged(**{"snoozebot-schedule": "office-hourz"}),
            "d-snoozed": tagged(**{"snoozebot-snooze-until": "20261124t0900"}),
            "e-bad-snooze": tagged(**{"snoozebot-snooze-until": "next week"}),
            "f-untagged": {"state": "running", "tags": {"team": "web"}},
            "g-unknown-state": tagged("rebooting"),
            "h-snooze-passed": tagged(**{"snoozebot-snooze-until": "2026-11-23T12:00:00Z"}),
        },
    )
    res = schedule_run("--now", MON_1905, "--json")
    assert res.returncode == 1
    got = {r["id"]: (r["action"], r["ok"], (r["error"] or {}).get("code")) for r in res.json()}
    assert got == {
        "a-ok": ("stop", True, None),
        "b-optout": ("skip", True, None),
        "c-typo": ("none", False, "unknown_schedule"),
        "d-snoozed": ("skip", True, None),
        "e-bad-snooze": ("none", False, "bad_snooze_until"),
        "g-unknown-state": ("none", True, None),
        "h-snooze-passed": ("stop", True, None),
    }
    assert states(fleet) == {
        "a-ok": "stopped",
        "b-optout": "running",
        "c-typo": "running",
        "d-snoozed": "running",
        "e-bad-snooze": "running",
        "f-untagged": "running",
        "g-unknown-state": "rebooting",
        "h-snooze-passed": "stopped",
    }
    assert [r[0] for r in audit_rows(isolated_home)] == ["a-ok", "h-snooze-passed"]


def test_table_output_for_people(fleet: Path) -> None:
    res = schedule_run("--now", MON_1905)
    assert res.returncode == 0, res.stderr
    assert "mem-0" in res.stdout and "stop" in res.stdout and "office-hours" in res.stdout


def test_without_p_covers_loaded_providers(fleet: Path) -> None:
    res = run_cli("schedule", "run", "--now", MON_1905)
    assert res.returncode == 2
    assert res.stderr.startswith("snoozebot: error: no provider is loaded")
    assert run_cli("plugins", "load", "memory").returncode == 0
    res = run_cli("schedule", "run", "--now", MON_1905, "--json")
    assert res.returncode == 0, res.stderr
    assert [r["action"] for r in res.json()] == ["stop"] * 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "2026-11-23T19:05:00"], "--now must carry an offset or Z"),
        (["--now", "yesterday"], "--now: not an ISO 8601 date-time"),
    ],
)
def test_bad_now_is_exit_2(fleet: Path, args: list[str], message: str) -> None:
    res = schedule_run(*args, "--json")
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.strip().splitlines() == [f"snoozebot: error: {res.stderr.split('error: ', 1)[1].strip()}"]
    assert message in res.stderr


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ('timezone = "Europe/Atlantis"\nperiods = [{ days = "mon", stop = "19:00" }]', "unknown time zone"),
        ('timezone = "UTC"\nperiods = [{ days = "mon", stop = "7pm" }]', "bad time '7pm'"),
        ('timezone = "UTC"\nperiods = [{ days = "mon-fry", stop = "19:00" }]', "unknown day 'fry'"),
    ],
)
def test_bad_config_is_exit_2_before_anything_runs(
    fleet: Path, tmp_path: Path, schedule: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config.read_text() + f"\n[schedules.broken]\n{schedule}\n")
    res = schedule_run("--now", MON_1905, "--json")
    assert res.returncode == 2
    assert "[schedules.broken]" in res.stderr and message in res.stderr
    assert "Traceback" not in res.stderr
    assert not fleet.exists()  # the provider was never even called


@pytest.mark.both_backends
def test_unavailable_provider_is_exit_3(fleet: Path, isolated_home: Path) -> None:
    res = run_cli("schedule", "run", "-p", "nosuch", "--now", MON_1905)
    assert res.returncode == 3
    assert "no provider named 'nosuch'" in res.stderr
    res = run_cli("schedule", "run", "-p", "crashy", "-p", "memory", "--now", MON_1905, "--json")
    assert res.returncode == 3, res.stderr
    assert res.stderr.startswith("snoozebot: error: crashy:")
    # The healthy provider still ran, and only its run was recorded.
    assert [r["action"] for r in res.json()] == ["stop"] * 3
    assert list(previous_runs(isolated_home)) == ["memory"]
    assert leftover_workers(isolated_home) == []


@pytest.mark.both_backends
def test_overlapping_run_waits_for_the_lock(fleet: Path, isolated_home: Path) -> None:
    with exclusive_lock(isolated_home / "schedule.lock", timeout=1):
        res = schedule_run("--now", MON_1905, "--lock-timeout", "0.5")
    assert res.returncode == 1
    assert "another snoozebot run holds the lock on schedule runs" in res.stderr
    assert set(states(fleet).values()) == {"running"} if fleet.exists() else True


def test_show_lists_the_next_boundaries_in_the_schedule_zone(fleet: Path) -> None:
    res = run_cli("schedule", "show", "office-hours", "--now", "2026-11-27T12:00:00Z", "-n", "3", "--json")
    assert res.returncode == 0, res.stderr
    assert res.json() == {
        "name": "office-hours",
        "timezone": "Europe/Berlin",
        "now": "2026-11-27T13:00:00+01:00",
        "next": [
            {"action": "stop", "at": "2026-11-27T19:00:00+01:00"},
            {"action": "stop", "at": "2026-11-28T13:00:00+01:00"},
            {"action": "start", "at": "2026-11-30T08:00:00+01:00"},
        ],
        "skipped": [{"date": "2026-12-24", "from": ["skip_dates"]}],
        "overrides": [],
    }
    res = run_cli("schedule", "show", "office-hours", "--now", "2026-11-27T12:00:00Z", "-n", "2")
    assert "Fri 2026-11-27 19:00 CET" in res.stdout
    res = run_cli("schedule", "show", "nope")
    assert res.returncode == 2 and "unknown schedule 'nope' (known: office-hours)" in res.stderr


def test_explain_says_why(fleet: Path) -> None:
    seed(fleet, {"a": tagged(), "b": tagged(**{"snoozebot-snooze-until": "2026-12-01"})})
    res = run_cli("schedule", "explain", "a", "-p", "memory", "--now", MON_1905, "--json")
    assert res.returncode == 0, res.stderr
    doc = res.json()
    assert (doc["action"], doc["schedule"], doc["state"], doc["ok"]) == ("stop", "office-hours", "running", True)
    assert doc["boundary"] == {"action": "stop", "at": "2026-11-23T19:00:00+01:00"}
    assert doc["window"] == {"after": "2026-11-23T18:05:00+01:00", "until": MON_1905}
    assert doc["next"][0] == {"action": "start", "at": "2026-11-24T08:00:00+01:00"}
    res = run_cli("schedule", "explain", "b", "-p", "memory", "--now", MON_1905, "--json")
    assert (res.json()["action"], res.json()["reason"]) == ("skip", "snoozed until 2026-12-01T00:00:00+01:00")
    res = run_cli("schedule", "explain", "b", "-p", "memory", "--now", MON_1905)
    assert "snoozed until" in res.stdout
    assert states(fleet) == {"a": "running", "b": "running"}  # explain changes nothing
    res = run_cli("schedule", "explain", "zzz", "-p", "memory", "--now", MON_1905)
    assert res.returncode == 1 and "instance zzz not found" in res.stderr


def test_the_real_clock_is_used_without_now(fleet: Path, tmp_path: Path, isolated_home: Path) -> None:
    import datetime as dt

    stop = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%H:%M")
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text() + f'\n[schedules.now]\ntimezone = "UTC"\nperiods = [{{ days = "daily", stop = "{stop}" }}]\n'
    )
    seed(fleet, {"a": tagged(**{"snoozebot-schedule": "now"})})
    res = schedule_run("--json")
    assert res.returncode == 0, res.stderr
    assert [r["action"] for r in res.json()] == ["stop"]
    recorded = previous_runs(isolated_home)["memory"]
    assert abs(recorded - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)

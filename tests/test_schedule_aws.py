"""`snoozebot schedule run` end to end against moto's EC2 server: tags, batching, the audit log.

The tests marked ``both_backends`` run on SQLite and on PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import boto3
import pytest
from conftest import leftover_workers, run_cli
from state_rows import select

AMI = "ami-12c6146b"
CONFIG = """
[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{ days = "mon-fri", start = "08:00", stop = "19:00" }]

[schedules.night-owls]
timezone = "America/New_York"
periods = [{ days = "daily", start = "20:00", stop = "04:00" }]
"""


def launch(count: int, tags: dict[str, str] | None = None) -> list[str]:
    extra = {}
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    reply = boto3.client("ec2").run_instances(ImageId=AMI, MinCount=count, MaxCount=count, **extra)
    return [i["InstanceId"] for i in reply["Instances"]]


def states(ids: list[str]) -> dict[str, str]:
    reply = boto3.client("ec2").describe_instances(InstanceIds=ids)
    return {i["InstanceId"]: i["State"]["Name"] for r in reply["Reservations"] for i in r["Instances"]}


@pytest.fixture
def config(tmp_path: Path, moto_ec2: str) -> Path:
    # moto keeps its backends per process: start from an empty region whatever ran before.
    urllib.request.urlopen(urllib.request.Request(f"{moto_ec2}/moto-api/reset", method="POST"), timeout=10).close()
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def run(*args: str):
    return run_cli("schedule", "run", "-p", "aws", *args)


def rows(res, ids: list[str]) -> list[dict]:
    """This test's rows, in the order of ``ids`` (moto's server may hold other tests' instances)."""
    by_id = {r["id"]: r for r in res.json()}
    return [by_id[i] for i in ids]


@pytest.mark.both_backends
def test_a_fleet_on_two_schedules(config: Path, isolated_home: Path) -> None:
    office = launch(3, {"snoozebot-schedule": "office-hours", "Name": "desk"})
    owls = launch(2, {"snoozebot-schedule": "night-owls"})
    untagged = launch(1)
    opted_out = launch(1, {"snoozebot-schedule": "never"})
    snoozed = launch(1, {"snoozebot-schedule": "office-hours", "snoozebot-snooze-until": "20261125t0000"})
    everyone = office + owls + untagged + opted_out + snoozed

    # Monday 19:05 in Berlin is 13:05 in New York: only the office stops.
    res = run("--now", "2026-11-23T19:05:00+01:00", "--json")
    assert res.returncode == 0, res.stderr
    assert {r["id"] for r in res.json()} == set(everyone) - set(untagged)  # untagged ones are not reported
    actions = {r["id"]: r["action"] for r in res.json()}
    assert actions == {
        **dict.fromkeys(office, "stop"),
        **dict.fromkeys(owls, "none"),
        **dict.fromkeys(opted_out, "skip"),
        **dict.fromkeys(snoozed, "skip"),
    }
    assert all(r["ok"] and r["provider"] == "aws" for r in rows(res, office + owls))
    now = states(everyone)
    assert {now[i] for i in office} == {"stopped"}
    assert {now[i] for i in owls + untagged + opted_out + snoozed} == {"running"}

    # 04:10 in New York on Tuesday (10:10 in Berlin): the owls stop; the office started at 08:00.
    res = run("--now", "2026-11-24T04:10:00-05:00", "--json")
    assert res.returncode == 0, res.stderr
    actions = {r["id"]: r["action"] for r in rows(res, office + owls)}
    assert [actions[i] for i in office] == ["start"] * 3
    assert [actions[i] for i in owls] == ["stop"] * 2
    now = states(everyone)
    assert {now[i] for i in owls} == {"stopped"} and {now[i] for i in office} <= {"pending", "running"}

    audited = select(isolated_home, "SELECT instance, action, source, result FROM attempts")
    assert sorted(audited) == sorted(
        [(i, "stop", "schedule", "ok") for i in office + owls] + [(i, "start", "schedule", "ok") for i in office]
    )
    assert leftover_workers(isolated_home) == []


@pytest.mark.both_backends
def test_a_manual_start_is_not_undone_until_the_next_boundary(config: Path) -> None:
    ids = launch(2, {"snoozebot-schedule": "office-hours"})
    assert run("--now", "2026-11-23T19:01:00+01:00").returncode == 0
    assert set(states(ids).values()) == {"stopped"}
    boto3.client("ec2").start_instances(InstanceIds=ids[:1])  # someone needs it tonight
    res = run("--now", "2026-11-23T19:30:00+01:00", "--json")
    assert [r["action"] for r in rows(res, ids)] == ["none", "none"]
    assert states(ids)[ids[0]] in ("pending", "running")
    res = run("--now", "2026-11-24T19:00:00+01:00", "--json")
    assert [r["action"] for r in rows(res, ids)] == ["stop", "none"]  # the other one is still stopped
    assert states(ids)[ids[0]] == "stopped"


@pytest.mark.both_backends
def test_dry_run_against_ec2_changes_nothing(config: Path, isolated_home: Path) -> None:
    ids = launch(2, {"snoozebot-schedule": "office-hours"})
    res = run("--now", "2026-11-23T19:01:00+01:00", "--dry-run", "--json")
    assert res.returncode == 0, res.stderr
    assert [r["action"] for r in rows(res, ids)] == ["stop", "stop"]
    assert set(states(ids).values()) == {"running"}
    assert select(isolated_home, "SELECT id FROM attempts") == []


def test_explain_an_ec2_instance(config: Path) -> None:
    [iid] = launch(1, {"snoozebot-schedule": "night-owls"})
    res = run_cli("schedule", "explain", iid, "-p", "aws", "--now", "2026-11-24T04:00:00-05:00", "--json")
    assert res.returncode == 0, res.stderr
    doc = res.json()
    assert (doc["action"], doc["boundary"]) == ("stop", {"action": "stop", "at": "2026-11-24T04:00:00-05:00"})
    assert states([iid])[iid] == "running"


SECOND_EDITION = """
[calendars.holidays]
dates = ["2026-12-31"]
ics = "holidays.ics"

[schedules.ops]
timezone = "Europe/Berlin"
periods = [
  { cron = "0 19 * * 1-5", action = "stop" },
  { cron = "0 8 * * 1-5", action = "start" },
  { cron = "0 12 * * 0,6", action = "stop" },
]
calendars = ["holidays"]
"""

HOLIDAYS_ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//snoozebot tests//EN\r
BEGIN:VEVENT\r
UID:new-year@test\r
DTSTART;VALUE=DATE:20200101\r
RRULE:FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:offsite@test\r
DTSTART;VALUE=DATE:20261207\r
DTEND;VALUE=DATE:20261209\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_calendars_cron_periods_and_order_tiers_on_ec2(config: Path, isolated_home: Path) -> None:
    config.write_text(SECOND_EDITION)
    (config.parent / "holidays.ics").write_text(HOLIDAYS_ICS)
    db = launch(1, {"snoozebot-schedule": "ops", "snoozebot-order": "0", "Name": "db"})
    app = launch(2, {"snoozebot-schedule": "ops", "snoozebot-order": "1", "Name": "app"})
    web = launch(1, {"snoozebot-schedule": "ops", "snoozebot-order": "2", "Name": "web"})
    fleet = db + app + web

    def actions(now: str) -> list[str]:
        res = run("--now", now, "--json", "--timeout", "30")
        assert res.returncode == 0, res.stderr
        return [r["action"] for r in rows(res, fleet)]

    def audit_order(action: str) -> list[set[str]]:
        """The instances of each tier's batch, in the order the batches were audited."""
        found = select(isolated_home, "SELECT instance FROM attempts WHERE action = ? ORDER BY id", action)
        ids = [i for (i,) in found]
        return [set(ids[:1]), set(ids[1:3]), set(ids[3:])]

    # A weekday evening: the cron stop, highest order first.
    assert actions("2026-12-04T19:05:00+01:00") == ["stop"] * 4
    assert audit_order("stop") == [set(web), set(app), set(db)]
    # The weekend's cron stop finds them stopped; Monday 7 December is an offsite day (ics, two days).
    assert actions("2026-12-05T12:05:00+01:00") == ["none"] * 4
    assert actions("2026-12-07T08:05:00+01:00") == ["none"] * 4
    assert actions("2026-12-08T08:05:00+01:00") == ["none"] * 4
    assert set(states(fleet).values()) == {"stopped"}
    # Wednesday morning: the cron start, lowest order first, each tier running before the next.
    assert actions("2026-12-09T08:05:00+01:00") == ["start"] * 4
    assert audit_order("start") == [set(db), set(app), set(web)]
    assert set(states(fleet).values()) <= {"pending", "running"}
    # New Year's Day (a yearly recurring event) and New Year's Eve (a date) start nothing.
    actions("2026-12-30T19:05:00+01:00")
    assert actions("2026-12-31T08:05:00+01:00") == ["none"] * 4
    assert actions("2027-01-01T08:05:00+01:00") == ["none"] * 4
    assert set(states(fleet).values()) == {"stopped"}
    res = run_cli("schedule", "show", "ops", "--now", "2026-12-30T20:00:00+01:00", "-n", "2", "--json")
    assert res.json()["skipped"] == [
        {"date": "2026-12-31", "from": ["holidays"]}, {"date": "2027-01-01", "from": ["holidays"]}
    ]
    assert leftover_workers(isolated_home) == []

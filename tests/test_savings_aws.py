"""`snoozebot savings` end to end against moto's EC2 server: stops, starts, a start by hand, prices."""

from __future__ import annotations

import csv
import io
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from conftest import free_port, run_cli

from snoozebot.config import Config
from snoozebot.store import open_store

AMI = "ami-12c6146b"
# 3600 USD an hour is one dollar a second: the amount shows the seconds snoozed.
CONFIG = """
[prices]
"aws:t3.large" = 3600
"""
BYS = ("instance", "provider", "target", "day", "tag:team")


def launch(instance_type: str, **tags: str) -> str:
    extra = {}
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    reply = boto3.client("ec2").run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=instance_type, **extra
    )
    return str(reply["Instances"][0]["InstanceId"])


@pytest.fixture
def config(tmp_path: Path, moto_ec2: str) -> Path:
    urllib.request.urlopen(urllib.request.Request(f"{moto_ec2}/moto-api/reset", method="POST"), timeout=10).close()
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def ok(*args: str):
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    return res


def journal(home: Path, sql: str) -> list[tuple]:
    """Rows of the journal in the test's state store (the state directory, or $SNOOZEBOT_DATABASE_URL)."""
    return [tuple(r) for r in open_store(home, Config()).read(lambda db: db.execute(sql), empty=[])]


def journal_rows(home: Path) -> list[tuple]:
    return journal(
        home,
        "SELECT instance, instance_type, region, tags, started, ended, ended_by, source FROM savings_intervals"
        " LEFT JOIN savings_details ON savings_details.id = savings_intervals.details ORDER BY savings_intervals.id",
    )


@pytest.mark.both_backends
def test_stops_starts_and_a_start_by_hand(config: Path, isolated_home: Path) -> None:
    priced = launch("t3.large", team="ml")
    cheap = launch("m1.small")
    t0 = time.time()
    ok("instance", "stop", priced, cheap, "-p", "aws")
    # EC2's stop answer has no type: the next listing fills it in (and changes nothing else).
    ok("instance", "list", "-p", "aws")
    ok("instance", "list", "-p", "aws")
    rows = journal_rows(isolated_home)
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        (priced, "t3.large", "us-east-1", None),
        (cheap, "m1.small", "us-east-1", None),
    ]
    time.sleep(1.5)
    ok("instance", "start", priced, "-p", "aws")
    boto3.client("ec2").start_instances(InstanceIds=[cheap])  # by hand, behind snoozebot's back
    res = ok("savings", "--json")  # the start by hand is not known yet: still snoozed
    assert res.json()["unpriced"] == [cheap]
    ok("instance", "list", "-p", "aws")  # ...until a listing sees it running
    t1 = time.time()
    rows = journal_rows(isolated_home)
    assert [r[6] for r in rows] == ["start", "listing"]
    assert len(rows) == 2  # sightings add no rows

    report = ok("savings", "--json").json()
    assert report["currency"] == "USD"
    assert set(report) >= {"since", "until", "currency", "total", "rows", "unpriced"}
    seconds = {r["key"]: r["hours"] * 3600 for r in report["rows"]}
    assert 1.5 <= seconds[priced] <= t1 - t0
    assert 1.5 <= seconds[cheap] <= t1 - t0
    by_key = {r["key"]: r for r in report["rows"]}
    assert by_key[priced]["amount"] == pytest.approx(seconds[priced])  # one dollar a second
    assert by_key[cheap]["amount"] is None
    assert report["unpriced"] == [cheap]
    assert report["total"]["amount"] == by_key[priced]["amount"]
    assert report["total"]["hours"] == pytest.approx(by_key[priced]["hours"] + by_key[cheap]["hours"])
    [use] = report["prices"]
    assert (use["instance_type"], use["source"], use["instances"]) == ("t3.large", "config", 1)

    # --by never changes the total; tag:team puts the untagged one in a row keyed null.
    totals = {by: ok("savings", "--json", "--by", by).json()["total"] for by in BYS}
    assert all(t == report["total"] for t in totals.values()), totals
    teams = {r["key"]: r["instances"] for r in ok("savings", "--json", "--by", "tag:team").json()["rows"]}
    assert teams == {"ml": 1, None: 1}
    [target] = ok("savings", "--json", "--by", "target").json()["rows"]
    assert target["key"] is None and target["instances"] == 2

    parsed = list(csv.DictReader(io.StringIO(ok("savings", "--csv", "--by", "provider").stdout)))
    assert [list(r) for r in parsed] == [["key", "hours", "amount", "instances"]]
    assert parsed[0]["key"] == "aws" and parsed[0]["instances"] == "2"
    assert float(parsed[0]["hours"]) == report["total"]["hours"]
    assert float(parsed[0]["amount"]) == report["total"]["amount"]

    text = ok("savings", "--by", "provider").stdout
    assert "TOTAL" in text and "compute only" in text and cheap in text
    assert '[prices] "aws:t3.large"' in text


def test_a_second_stop_keeps_the_first_interval(config: Path, isolated_home: Path) -> None:
    iid = launch("t3.large")
    ok("instance", "stop", iid, "-p", "aws")
    ok("instance", "stop", iid, "-p", "aws")  # idempotent: still the same snooze
    ok("instance", "start", iid, "-p", "aws", "--dry-run")  # a dry run ends nothing
    rows = journal_rows(isolated_home)
    assert len(rows) == 1 and rows[0][5] is None
    ok("instance", "start", iid, "-p", "aws")
    ok("instance", "start", iid, "-p", "aws")  # nothing open any more: nothing changes
    rows = journal_rows(isolated_home)
    assert len(rows) == 1 and rows[0][6] == "start"


def test_usage_mistakes(config: Path) -> None:
    for args, needle in (
        (["--by", "colour"], "--by must be one of"),
        (["--by", "tag:"], "--by must be one of"),
        (["--since", "last tuesday"], "--since must be like"),
        (["--since", "2026-11-02", "--until", "2026-11-01"], "must be before"),
        (["--json", "--csv"], "exclude each other"),
    ):
        res = run_cli("savings", *args)
        assert res.returncode == 2, (args, res.stderr)
        assert needle in res.stderr and "Traceback" not in res.stderr
    config.write_text('[prices]\n"t3.large" = 1\n')
    res = run_cli("savings", "--config", str(config))
    assert res.returncode == 2 and "PROVIDER:TYPE" in res.stderr
    config.write_text('[prices]\n"aws:*" = "cheap"\n')
    res = run_cli("savings", "--config", str(config))
    assert res.returncode == 2 and "USD per hour" in res.stderr


@pytest.mark.parametrize("name", ["savings.sqlite3", "audit.sqlite3"])
def test_a_damaged_journal_is_one_line_and_exit_3(isolated_home: Path, name: str) -> None:
    """The journal's file before (imported once), or the store's file now."""
    (isolated_home / name).write_bytes(b"this is not a database, it is a shopping list" * 100)
    res = run_cli("savings")
    assert res.returncode == 3, res.stderr
    assert str(isolated_home / name) in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_and_exit_3(isolated_home: Path) -> None:
    port = free_port()
    res = run_cli("savings", env={"SNOOZEBOT_DATABASE_URL": f"postgresql://u:pw-secret@127.0.0.1:{port}/db"})
    assert res.returncode == 3 and f"127.0.0.1:{port}" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "pw-secret" not in res.stderr


@pytest.mark.both_backends
def test_a_schedule_stop_is_a_snooze_and_its_start_ends_it(config: Path, isolated_home: Path) -> None:
    config.write_text(
        CONFIG + '\n[schedules.office]\ntimezone = "Europe/Berlin"\n'
        'periods = [{ days = "mon-fri", start = "08:00", stop = "19:00" }]\n'
    )
    iid = launch("t3.large", **{"snoozebot-schedule": "office", "team": "ml"})
    ok("schedule", "run", "-p", "aws", "--now", "2026-11-23T19:05:00+01:00")
    ok("schedule", "run", "-p", "aws", "--now", "2026-11-23T23:05:00+01:00")  # nothing due: nothing written
    rows = journal_rows(isolated_home)
    assert [(r[0], r[1], r[5], r[7]) for r in rows] == [(iid, "t3.large", None, "schedule")]  # the type: from the second listing
    ok("schedule", "run", "-p", "aws", "--now", "2026-11-24T08:05:00+01:00")
    rows = journal_rows(isolated_home)
    assert len(rows) == 1 and rows[0][6] == "start"
    [row] = ok("savings", "--json", "--by", "tag:team").json()["rows"]
    assert row["key"] == "ml" and row["amount"] == pytest.approx(row["hours"] * 3600)



def test_by_target_names_the_fleet_target_of_the_stop(config: Path, isolated_home: Path) -> None:
    config.write_text(CONFIG + '\n[targets.prod]\nprovider = "aws"\nregion = ["us-east-1"]\n')
    through_target, plain = launch("t3.large"), launch("t3.large")
    ok("instance", "stop", through_target, "-t", "prod")
    ok("instance", "stop", plain, "-p", "aws")
    time.sleep(0.1)
    rows = {r["key"]: r["instances"] for r in ok("savings", "--json", "--by", "target").json()["rows"]}
    assert rows == {"prod": 1, None: 1}

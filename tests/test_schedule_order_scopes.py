"""`snoozebot-order` tiers across the scopes of a fleet target, end to end through the real CLI.

Over moto's EC2 server: a target of two regions whose tiers are split between
them, the order read back from the audit log (`history --json`: each attempt's
`time` is written before its call, `finished` after it). Over the `memory`
fixture provider: a target of two state files, whose records with
`boot_seconds` run only later, so a start tier is seen to be waited for in the
other scope, or to time out there and hold the tiers behind it back.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import leftover_workers, run_cli

AMI = "ami-12c6146b"
SCHEDULE = """
[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{ days = "mon-fri", start = "08:00", stop = "19:00" }]
"""
MON_1905 = "2026-11-23T19:05:00+01:00"
TUE_0805 = "2026-11-24T08:05:00+01:00"
EAST, WEST = "us-east-1", "eu-west-1"


def attempts(action: str) -> list[dict[str, Any]]:
    """The audited attempts of ``action``, oldest first."""
    res = run_cli("history", "--json", "-n", "1000")
    assert res.returncode == 0, res.stderr
    return sorted((e for e in res.json() if e["action"] == action), key=lambda e: e["id"])


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def assert_one_after_the_other(done: list[dict[str, Any]], tiers: list[set[str]]) -> None:
    """The attempts come tier by tier, and each tier's calls finished before the next tier's began."""
    ids = [e["instance"] for e in done]
    sizes = [len(t) for t in tiers]
    assert [set(ids[sum(sizes[:k]) : sum(sizes[: k + 1])]) for k in range(len(tiers))] == tiers
    for k in range(1, len(tiers)):
        before = [e for e in done if e["instance"] in tiers[k - 1]]
        after = [e for e in done if e["instance"] in tiers[k]]
        assert max(moment(e["finished"]) for e in before) <= min(moment(e["time"]) for e in after)


# --- moto: a target of two regions ----------------------------------------------------------------

REGIONS_CONFIG = f"""
[targets.shop]
provider = "aws"
region = ["{EAST}", "{WEST}"]

[targets.other]
provider = "aws"
region = "ap-southeast-2"
""" + SCHEDULE


def launch(region: str, order: str | None, **extra: Any) -> str:
    tags = {"snoozebot-schedule": "office-hours", **({"snoozebot-order": order} if order is not None else {})}
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    reply = boto3.client("ec2", region_name=region).run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, TagSpecifications=spec, **extra
    )
    return str(reply["Instances"][0]["InstanceId"])


def ec2_state(region: str, iid: str) -> str:
    reply = boto3.client("ec2", region_name=region).describe_instances(InstanceIds=[iid])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


@pytest.fixture
def regions(moto_ec2: str, tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(REGIONS_CONFIG)
    return tmp_path


def test_tiers_span_the_regions_of_a_target(regions: Path, isolated_home: Path) -> None:
    # eu-west-1 holds the untagged cache (tier 0) and the database (1); us-east-1 the app (2) and web (3).
    cache, db = launch(WEST, None), launch(WEST, "1")
    app, web = launch(EAST, "2"), launch(EAST, "3")
    where = {cache: WEST, db: WEST, app: EAST, web: EAST}

    res = run_cli("schedule", "run", "-t", "shop", "--now", MON_1905, "--json")
    assert res.returncode == 0, res.stderr
    assert {r["id"]: (r["action"], r["ok"], r["scope"]["region"]) for r in res.json()} == {
        iid: ("stop", True, region) for iid, region in where.items()
    }
    # Highest first across both regions: us-east-1's tiers are done before eu-west-1's database stops.
    assert_one_after_the_other(attempts("stop"), [{web}, {app}, {db}, {cache}])
    assert all(ec2_state(region, iid) == "stopped" for iid, region in where.items())

    res = run_cli("schedule", "run", "-t", "shop", "--now", TUE_0805, "--json", "--timeout", "30")
    assert res.returncode == 0, res.stderr
    assert {(r["action"], r["ok"], r["target"]) for r in res.json()} == {("start", True, "shop")}
    # Lowest first: the app in the other region starts only once the database started and runs.
    started = attempts("start")
    assert_one_after_the_other(started, [{cache}, {db}, {app}, {web}])
    assert {e["instance"]: e["scope"] for e in started} == {iid: {"region": r} for iid, r in where.items()}
    assert {e["instance"]: (e["target"], e["result"]) for e in started} == dict.fromkeys(where, ("shop", "ok"))
    assert all(ec2_state(region, iid) == "running" for iid, region in where.items())
    assert leftover_workers(isolated_home) == []


def test_a_failed_stop_tier_in_one_region_holds_back_the_other_region(regions: Path) -> None:
    # The web server (tier 2) has stop protection: EC2 refuses its stop.
    web = launch(EAST, "2", DisableApiStop=True)
    app, db = launch(WEST, "1"), launch(WEST, "0")
    elsewhere = launch("ap-southeast-2", "1")  # another target, unaffected
    res = run_cli("schedule", "run", "-t", "shop", "-t", "other", "--now", MON_1905, "--json")
    assert res.returncode == 1
    by_id = {r["id"]: r for r in res.json()}
    assert (by_id[web]["ok"], by_id[web]["scope"]) == (False, {"region": EAST})
    assert web in by_id[web]["error"]["message"]
    for held in (app, db):
        assert (by_id[held]["action"], by_id[held]["ok"], by_id[held]["error"]["code"]) == (
            "stop", False, "held_back"
        )
        assert by_id[held]["error"]["message"].startswith(f"not stopped: order tier 2 failed ({web}: ")
        assert ec2_state(WEST, held) == "running"
    assert (by_id[elsewhere]["ok"], by_id[elsewhere]["target"]) == (True, "other")
    assert ec2_state("ap-southeast-2", elsewhere) == "stopped"
    # Nothing was asked of EC2 for the held-back tiers.
    assert sorted(e["instance"] for e in attempts("stop")) == sorted([web, elsewhere])


# --- memory: a target of two state files ----------------------------------------------------------

PAIR_CONFIG = """
[providers.memory]
state_file = "{tmp}/solo.json"
call_log = "{tmp}/calls.jsonl"

[targets.pair]
provider = "memory"
zone = ["a", "b"]
state_file = "{tmp}/{{zone}}.json"
call_log = "{tmp}/calls.jsonl"
""" + SCHEDULE.replace("{", "{{").replace("}", "}}")


@pytest.fixture
def pair(tmp_path: Path, isolated_home: Path) -> Path:
    (tmp_path / "config.toml").write_text(PAIR_CONFIG.format(tmp=tmp_path))
    return tmp_path


def seed(path: Path, instances: dict[str, dict[str, Any]]) -> None:
    path.write_text(json.dumps(instances))


def machine(state: str, order: str, **extra: Any) -> dict[str, Any]:
    tags = {"snoozebot-schedule": "office-hours", "snoozebot-order": order}
    return {"state": state, "name": "m", "tags": tags, **extra}


def states(path: Path) -> dict[str, str]:
    return {iid: rec["state"] for iid, rec in json.loads(path.read_text()).items()}


def calls(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in map(json.loads, (tmp_path / "calls.jsonl").read_text().splitlines())}


def test_a_start_tier_is_waited_for_in_every_scope_before_the_next(pair: Path, isolated_home: Path) -> None:
    seed(pair / "a.json", {"app": machine("stopped", "1")})
    seed(pair / "b.json", {"db": machine("stopped", "0", boot_seconds=1.5)})
    res = run_cli("schedule", "run", "-t", "pair", "--now", TUE_0805, "--json", "--timeout", "20")
    assert res.returncode == 0, res.stderr
    assert {r["id"]: (r["action"], r["ok"], r["scope"]["zone"]) for r in res.json()} == {
        "app": ("start", True, "a"), "db": ("start", True, "b")
    }
    log = calls(pair)
    # Zone a's app was asked only once zone b's database ran, 1.5 s after its start call.
    assert log["app"]["start"] - log["db"]["end"] >= 1.4
    assert states(pair / "a.json") == {"app": "running"}
    assert leftover_workers(isolated_home) == []


def test_a_start_tier_that_times_out_in_one_scope_holds_back_the_other(pair: Path, isolated_home: Path) -> None:
    seed(pair / "a.json", {"app": machine("stopped", "1"), "web": machine("stopped", "2")})
    seed(pair / "b.json", {"db": machine("stopped", "0", boot_seconds=3600), "db2": machine("stopped", "0")})
    seed(pair / "solo.json", {"api": machine("stopped", "1")})  # `-p memory`: not part of the target
    res = run_cli("schedule", "run", "-t", "pair", "-p", "memory", "--now", TUE_0805, "--json", "--timeout", "1.5")
    assert res.returncode == 1
    by_id = {r["id"]: r for r in res.json()}
    assert (by_id["db"]["ok"], by_id["db"]["error"]["code"]) == (False, "wait_timeout")
    assert by_id["db2"]["ok"] is True
    for held in ("app", "web"):
        assert (by_id[held]["action"], by_id[held]["ok"], by_id[held]["error"]["code"]) == (
            "start", False, "held_back"
        )
        assert by_id[held]["error"]["message"].startswith("not started: order tier 0 failed (db: ")
        assert by_id[held]["scope"] == {"zone": "a"}
    assert (by_id["api"]["ok"], "target" in by_id["api"]) == (True, False)
    assert set(calls(pair)) == {"db", "db2", "api"}  # nothing was asked for the held-back tiers
    assert states(pair / "a.json") == {"app": "stopped", "web": "stopped"}
    assert states(pair / "solo.json") == {"api": "running"}
    assert leftover_workers(isolated_home) == []


def test_the_scopes_of_one_tier_are_acted_on_concurrently(pair: Path, isolated_home: Path) -> None:
    # Every call of the memory provider sleeps a second: the two scopes' stops overlap in time.
    seed(pair / "a.json", {"web-a": machine("running", "1"), "db-a": machine("running", "0")})
    seed(pair / "b.json", {"web-b": machine("running", "1"), "db-b": machine("running", "0")})
    res = run_cli("schedule", "run", "-t", "pair", "-o", "delay=1", "--now", MON_1905, "--json")
    assert res.returncode == 0, res.stderr
    assert {(r["action"], r["ok"]) for r in res.json()} == {("stop", True)}
    log = calls(pair)
    for tier in (("web-a", "web-b"), ("db-a", "db-b")):
        first, second = (log[i] for i in tier)
        assert first["start"] < second["end"] and second["start"] < first["end"]
    assert max(log["web-a"]["end"], log["web-b"]["end"]) <= min(log["db-a"]["start"], log["db-b"]["start"])

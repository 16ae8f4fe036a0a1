"""Fleets: one command over many accounts and regions, through real boto3, STS and moto's EC2.

moto keeps each account's resources apart and puts the caller in the account of
the role it assumed, so an instance launched with one role's credentials is only
seen by a scope whose role_arn names that account. The tests marked ``both_backends`` (audit
rows and schedule records per scope) run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import run_cli
from state_rows import previous_runs, select

from snoozebot.config import Config
from snoozebot.errors import UsageError
from snoozebot.fleet import Scope, choose_scopes, expand_target

AMI = "ami-12c6146b"
ACCOUNTS = ["111111111111", "222222222222"]
REGIONS = ["us-east-1", "eu-west-1"]
CONFIG = """
[targets.prod]
provider = "aws"
account = ["111111111111", "222222222222"]
region = ["us-east-1", "eu-west-1"]
role_arn = "arn:aws:iam::{account}:role/snoozebot"
external_id = "fleet-test"
"""


def ec2_as(account: str, region: str) -> Any:
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/snoozebot", RoleSessionName="test"
    )["Credentials"]
    return boto3.client(
        "ec2",
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def launch(account: str, region: str, team: str = "ml") -> str:
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "Team", "Value": team}]}]
    reply = ec2_as(account, region).run_instances(ImageId=AMI, MinCount=1, MaxCount=1, TagSpecifications=tags)
    return str(reply["Instances"][0]["InstanceId"])


def state(account: str, region: str, iid: str) -> str:
    reply = ec2_as(account, region).describe_instances(InstanceIds=[iid])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


@pytest.fixture
def estate(moto_ec2: str, tmp_path: Path) -> dict[tuple[str, str], str]:
    """One instance in each of the four scopes; the config's target covers them all."""
    (tmp_path / "config.toml").write_text(CONFIG)
    return {(a, r): launch(a, r) for a in ACCOUNTS for r in REGIONS}


def test_one_listing_covers_every_account_and_region(estate: dict[tuple[str, str], str]) -> None:
    res = run_cli("instance", "list", "-t", "prod", "--json")
    assert res.returncode == 0, res.stderr
    found = {(i["scope"]["account"], i["scope"]["region"]): i["id"] for i in res.json()}
    assert found == estate
    assert {i["target"] for i in res.json()} == {"prod"}
    table = run_cli("instance", "list")  # targets configured: every target by default
    assert table.returncode == 0 and "TARGET" in table.stdout and "account=111111111111, region=eu-west-1" in table.stdout


def test_scope_narrows_a_target(estate: dict[tuple[str, str], str]) -> None:
    res = run_cli("instance", "list", "-t", "prod", "--scope", "region=eu-west-1", "--json")
    assert res.returncode == 0, res.stderr
    assert sorted(i["id"] for i in res.json()) == sorted(v for (a, r), v in estate.items() if r == "eu-west-1")
    none = run_cli("instance", "list", "-t", "prod", "--scope", "region=mars-1")
    assert none.returncode == 2 and "no scope matches --scope region=mars-1" in none.stderr


@pytest.mark.both_backends
def test_stop_by_id_finds_each_id_in_its_scope_and_audits_where(
    estate: dict[tuple[str, str], str], isolated_home: Path
) -> None:
    a, b = estate[(ACCOUNTS[0], REGIONS[1])], estate[(ACCOUNTS[1], REGIONS[0])]
    res = run_cli("instance", "stop", a, b, "i-0000000000000dead", "-t", "prod", "--json")
    assert res.returncode == 1  # the unknown id fails alone
    doc = {r["id"]: r for r in res.json()}
    assert doc[a]["ok"] and doc[a]["scope"] == {"account": ACCOUNTS[0], "region": REGIONS[1]}
    assert doc[b]["ok"] and doc[b]["scope"] == {"account": ACCOUNTS[1], "region": REGIONS[0]}
    assert not doc["i-0000000000000dead"]["ok"]
    assert doc["i-0000000000000dead"]["error"]["code"] == "instance_not_found"
    assert state(ACCOUNTS[0], REGIONS[1], a) in ("stopping", "stopped")
    assert state(ACCOUNTS[1], REGIONS[0], b) in ("stopping", "stopped")
    assert state(ACCOUNTS[0], REGIONS[0], estate[(ACCOUNTS[0], REGIONS[0])]) == "running"
    rows = select(isolated_home, "SELECT instance, target, scope FROM attempts ORDER BY instance")
    assert sorted(rows) == sorted(
        [(a, "prod", json.dumps({"account": ACCOUNTS[0], "region": REGIONS[1]}, separators=(",", ":"))),
         (b, "prod", json.dumps({"account": ACCOUNTS[1], "region": REGIONS[0]}, separators=(",", ":")))]
    )
    history = run_cli("history", "-t", "prod", "--json")
    assert {e["instance"] for e in history.json()} == {a, b}


def test_filter_without_ids_acts_on_every_running_match(estate: dict[tuple[str, str], str]) -> None:
    web = launch(ACCOUNTS[1], REGIONS[1], team="web")
    dry = run_cli("instance", "stop", "--filter", "Team=ml", "-t", "prod", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert sorted(r["id"] for r in dry.json()) == sorted(estate.values())
    assert all(state(a, r, iid) == "running" for (a, r), iid in estate.items())
    res = run_cli("instance", "stop", "--filter", "Team=ml", "-t", "prod", "--json")
    assert res.returncode == 0, res.stderr
    assert all(state(a, r, iid) in ("stopping", "stopped") for (a, r), iid in estate.items())
    assert state(ACCOUNTS[1], REGIONS[1], web) == "running"
    both = run_cli("instance", "stop", "i-1", "--filter", "Team=ml", "-t", "prod")
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_failing_scope_fails_alone(moto_ec2: str, tmp_path: Path) -> None:
    iid = boto3.client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    (tmp_path / "config.toml").write_text(
        f'[targets.two]\nprovider = "aws"\nendpoint_url = ["{moto_ec2}", "http://127.0.0.1:9"]\n'
        'max_attempts = "1"\nconnect_timeout = "1"\n'
    )
    res = run_cli("instance", "list", "-t", "two", "--json")
    assert res.returncode == 1
    assert [i["id"] for i in res.json()] == [iid]
    [line] = res.stderr.strip().splitlines()
    assert "target two (endpoint_url=http://127.0.0.1:9)" in line


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ('[targets.x]\nprovider = "aws"\nregion = []\n', ["-t", "x"], "an empty array gives no scope"),
        ('[targets.x]\nprovider = "aws"\nrole_arn = "arn:{acount}"\n', ["-t", "x"], "unknown option {acount}"),
        ('[targets.x]\nprovider = "awz"\n', ["-t", "x"], "provider 'awz', which is not installed"),
        ('[targets.x]\nregion = "a"\n', ["-t", "x"], 'needs provider = "NAME"'),
        ('[targets.x]\nprovider = "aws"\n', ["-t", "y"], "unknown target 'y' (targets: x)"),
    ],
)
def test_bad_targets_are_usage_errors_before_anything_runs(
    tmp_path: Path, config: str, args: list[str], message: str
) -> None:
    (tmp_path / "config.toml").write_text(config)
    res = run_cli("instance", "list", *args)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_expansion_is_the_cartesian_product_with_substitution() -> None:
    table = {"provider": "aws", "account": ["1", "2"], "region": ["a", "b", "c"], "role_arn": "r:{account}:{region}"}
    scopes = expand_target("t", table, base={"profile": "p"})
    assert len(scopes) == 6
    first = scopes[0]
    assert first.options == {"profile": "p", "account": "1", "region": "a", "role_arn": "r:1:a"}
    assert first.labels == {"account": "1", "region": "a"}
    assert {s.options["role_arn"] for s in scopes} == {f"r:{x}:{y}" for x in "12" for y in "abc"}


def test_without_targets_the_loaded_providers_are_covered() -> None:
    scopes = choose_scopes(
        Config(), providers=[], targets=[], filters={}, overrides={}, default_providers=lambda: ["memory"]
    )
    assert scopes == [Scope("memory", {})]
    with pytest.raises(UsageError):
        choose_scopes(Config(), providers=[], targets=["x"], filters={}, overrides={}, default_providers=list)


def test_account_organization_expands_to_the_active_accounts(moto_ec2: str, tmp_path: Path) -> None:
    org = boto3.client("organizations")
    org.create_organization(FeatureSet="ALL")
    dev = org.create_account(AccountName="dev", Email="dev@example.test")["CreateAccountStatus"]["AccountId"]
    iid = launch(dev, "us-east-1")
    (tmp_path / "config.toml").write_text(
        '[targets.org]\nprovider = "aws"\naccount = "organization"\nregion = "us-east-1"\n'
        'role_arn = "arn:aws:iam::{account}:role/snoozebot"\n'
    )
    res = run_cli("instance", "list", "-t", "org", "--json")
    assert res.returncode == 0, res.stderr
    assert [(i["id"], i["scope"]) for i in res.json()] == [(iid, {"account": dev})]
    accounts = {a["Id"] for a in org.list_accounts()["Accounts"]}
    dry = run_cli("instance", "stop", "--filter", "Team=ml", "-t", "org", "--dry-run", "--json")
    assert [r["scope"]["account"] for r in dry.json()] == [dev] and dev in accounts and len(accounts) == 2


def test_region_all_expands_to_the_enabled_regions(moto_ec2: str, tmp_path: Path) -> None:
    far = {r: boto3.client("ec2", region_name=r).run_instances(ImageId=AMI, MinCount=1, MaxCount=1)
           ["Instances"][0]["InstanceId"] for r in ("eu-west-1", "ap-southeast-2")}
    (tmp_path / "config.toml").write_text('[targets.everywhere]\nprovider = "aws"\nregion = "all"\n')
    res = run_cli("instance", "list", "-t", "everywhere", "--json")
    assert res.returncode == 0, res.stderr
    assert {i["scope"]["region"]: i["id"] for i in res.json()} == far
    enabled = [
        r["RegionName"] for r in boto3.client("ec2").describe_regions(AllRegions=True)["Regions"]
        if r.get("OptInStatus") != "not-opted-in"
    ]
    info = run_cli("instance", "info", far["ap-southeast-2"], "-t", "everywhere", "--json")
    assert info.returncode == 0 and info.json()["scope"] == {"region": "ap-southeast-2"}
    assert len(enabled) > 2


def test_plugins_info_announces_expand_options() -> None:
    res = run_cli("plugins", "info", "aws", "--json")
    assert res.returncode == 0, res.stderr
    assert "expand_options" in res.json()["capabilities"]


SCHEDULE = """
[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{ days = "mon-fri", start = "08:00", stop = "19:00" }]
"""
MON_1905 = "2026-11-23T19:05:00+01:00"


def tag_for_schedule(account: str, region: str, iid: str) -> None:
    ec2_as(account, region).create_tags(Resources=[iid], Tags=[{"Key": "snoozebot-schedule", "Value": "office-hours"}])


@pytest.mark.both_backends
def test_schedule_run_over_a_target_keeps_a_record_per_scope(
    estate: dict[tuple[str, str], str], tmp_path: Path, isolated_home: Path
) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + SCHEDULE)
    for (account, region), iid in estate.items():
        tag_for_schedule(account, region, iid)
    res = run_cli("schedule", "run", "-t", "prod", "--now", MON_1905, "--json")
    assert res.returncode == 0, res.stderr
    rows = res.json()
    assert {(r["scope"]["account"], r["scope"]["region"]): r["id"] for r in rows} == estate
    assert {(r["action"], r["ok"], r["target"]) for r in rows} == {("stop", True, "prod")}
    assert all(state(a, r, iid) in ("stopping", "stopped") for (a, r), iid in estate.items())
    records = previous_runs(isolated_home)
    assert len(records) == 4 and all(key.startswith("aws prod {") for key in records)
    again = run_cli("schedule", "run", "-t", "prod", "--now", MON_1905, "--json")  # the same boundary: once
    assert {r["action"] for r in again.json()} == {"none"}


def test_schedule_run_reports_a_failed_scope_as_one_entry(moto_ec2: str, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        f'[targets.two]\nprovider = "aws"\nendpoint_url = ["{moto_ec2}", "http://127.0.0.1:9"]\n'
        'max_attempts = "1"\nconnect_timeout = "1"\n' + SCHEDULE
    )
    res = run_cli("schedule", "run", "-t", "two", "--now", MON_1905, "--json")
    assert res.returncode == 1
    [failed] = res.json()
    assert failed["id"] is None and failed["ok"] is False and failed["target"] == "two"
    assert failed["scope"] == {"endpoint_url": "http://127.0.0.1:9"} and failed["error"]["code"]
    assert "target two (endpoint_url=http://127.0.0.1:9)" in res.stderr

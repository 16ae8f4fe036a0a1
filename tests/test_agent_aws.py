"""The agent in front of a real cloud SDK: the `aws` provider (boto3 in its worker) against
moto's EC2 server on loopback, driven over HTTP and through the CLI's `--agent`.

The audited stops through the agent (``both_backends``) run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from conftest import run_cli
from test_agent_harness import Agent, running_agent

AMI = "ami-12c6146b"
MISSING = "i-0000000000000dead"


@pytest.fixture
def agent(moto_ec2: str, tmp_path: Path, isolated_home: Path) -> Iterator[Agent]:
    with running_agent(isolated_home, tmp_path / "config.toml", timeout=30) as running:
        with running.client() as client:
            assert client.post("/api/plugins/load", json={"plugin": "aws"}).status_code == 200
        yield running


def _launch(count: int) -> list[str]:
    reply = boto3.client("ec2").run_instances(
        ImageId=AMI,
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "ml"}]}],
    )
    return sorted(i["InstanceId"] for i in reply["Instances"])


def _state(instance_id: str) -> str:
    reply = boto3.client("ec2").describe_instances(InstanceIds=[instance_id])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def test_list_info_stop_start_over_http(agent: Agent) -> None:
    ids = _launch(2)
    with agent.client("operator") as client:
        listed = client.get("/api/providers/aws/instances", params={"filter": "team=ml"}).json()
        assert sorted(i["id"] for i in listed) == ids
        info = client.get(f"/api/providers/aws/instances/{ids[0]}").json()
        assert info["state"] == "running" and info["provider"] == "aws" and info["tags"]["team"] == "ml"
        stopped = client.post(f"/api/providers/aws/instances/{ids[0]}/stop", json={})
        assert stopped.status_code == 200 and stopped.json()["ok"] is True
    assert _state(ids[0]) in ("stopping", "stopped")
    assert _state(ids[1]) == "running"


def test_cloud_errors_keep_the_clouds_code(agent: Agent) -> None:
    with agent.client("operator") as client:
        missing = client.get(f"/api/providers/aws/instances/{MISSING}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "instance_not_found"
        assert missing.json()["error"]["cloud_code"] == "InvalidInstanceID.NotFound"
        stop = client.post(f"/api/providers/aws/instances/{MISSING}/stop", json={"dry_run": False})
        assert stop.status_code == 404
        assert stop.json()["error"]["cloud_code"] == "InvalidInstanceID.NotFound"


@pytest.mark.both_backends
def test_the_cli_through_the_agent_matches_the_cli_alone(agent: Agent) -> None:
    ids = _launch(2)
    env = {"SNOOZEBOT_AGENT_URL": agent.url, "SNOOZEBOT_TOKEN": agent.tokens["operator"]}
    for args in (("instance", "list", "-p", "aws", "--json"), ("instance", "info", ids[1], "-p", "aws", "--json")):
        local, remote = run_cli(*args), run_cli(*args, env=env)
        assert (remote.returncode, remote.stdout) == (local.returncode, local.stdout) == (0, local.stdout)
    stopped = run_cli("instance", "stop", *ids, "-p", "aws", "--wait", "--json", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert [r["state"] for r in stopped.json()] == ["stopped", "stopped"]
    assert {_state(i) for i in ids} == {"stopped"}
    history = run_cli("history", "--json").json()
    assert {(h["actor"], h["source"], h["instance"]) for h in history if h["action"] == "stop"} == {
        ("operator", "agent", ids[0]),
        ("operator", "agent", ids[1]),
    }



def test_the_plugin_status_shows_api_1_1_and_capabilities_over_http_and_through_the_cli(agent: Agent) -> None:
    with agent.client("viewer") as client:
        info = client.get("/api/plugins/aws").json()
    assert (info["api_version"], info["capabilities"]) == ("1.1", ["identify_self", "expand_options", "hourly_price"])
    env = {"SNOOZEBOT_AGENT_URL": agent.url, "SNOOZEBOT_TOKEN": agent.tokens["viewer"]}
    through = run_cli("plugins", "info", "aws", "--json", env=env)
    assert through.returncode == 0, through.stderr
    assert through.json()["capabilities"] == ["identify_self", "expand_options", "hourly_price"]

"""Busy-aware stops end to end: a real `idle check --report` on the "instance" (a fake IMDS naming a
moto instance, a fake `nvidia-smi` to make it busy), a real agent keeping the report, and a real
`schedule run` on the agent's machine deferring, retrying and finally making the stop.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from conftest import run_cli
from fake_metadata import FakeMetadata, refused_host
from test_agent_harness import Agent, running_agent

from snoozebot.schedule.activity import ActivityStore

AMI = "ami-12c6146b"
ALWAYS_IDLE = ["--cpu", "100", "--network", "1000000", "--disk", "1000000", "--ignore-sessions"]


def launch(tags: dict[str, str]) -> str:
    reply = boto3.client("ec2").run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )
    return str(reply["Instances"][0]["InstanceId"])


def state(instance_id: str) -> str:
    reply = boto3.client("ec2").describe_instances(InstanceIds=[instance_id])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def config_text(stop: dt.datetime, start: dt.datetime) -> str:
    """A UTC schedule that stops at ``stop`` and starts at ``start`` every day, unless busy within 30m."""
    return f"""
[schedules.busy-aware]
timezone = "UTC"
periods = [{{ days = "daily", stop = "{stop:%H:%M}" }}, {{ days = "daily", start = "{start:%H:%M}" }}]
unless_busy = "30m"
"""


@dataclass
class World:
    """The agent's machine (its home, config and agent) and the instance (its own home and metadata)."""

    agent: Agent
    instance: str
    vm_env: dict[str, str]
    bin_dir: Path
    stop_at: dt.datetime
    cron_home: Path
    """Where `schedule run` runs: the agent's state directory, or with a database another machine's."""

    def gpu(self, percent: int) -> None:
        path = self.bin_dir / "nvidia-smi"
        path.write_text(f'#!/bin/sh\necho "{percent}"\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def check(self, *args: str, token: str = "reporter") -> Any:
        """`idle check --report` on the instance, sending to the agent with the token named ``token``."""
        env = {**self.vm_env, "SNOOZEBOT_AGENT_URL": self.agent.url, "SNOOZEBOT_TOKEN": self.agent.tokens[token]}
        return run_cli("idle", "check", *ALWAYS_IDLE, "--report", *args, env=env)

    def schedule(self, *args: str) -> Any:
        """`snoozebot schedule ARGS...` on the cron machine."""
        return run_cli("schedule", *args, env={"SNOOZEBOT_HOME": str(self.cron_home)})

    def run_at(self, now: dt.datetime) -> dict[str, Any]:
        """`schedule run -p aws --now NOW` on the cron machine: this instance's row."""
        res = self.schedule("run", "-p", "aws", "--now", now.isoformat(), "--json")
        assert res.returncode == 0, res.stderr
        return next(r for r in res.json() if r["id"] == self.instance)


@pytest.fixture
def world(moto_ec2: str, tmp_path: Path, isolated_home: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    shared = "state_backend" in request.fixturenames and request.getfixturevalue("state_backend") == "postgresql"
    cron_home = tmp_path / "cron-home" if shared else isolated_home  # one database: any machine sees the reports
    cron_home.mkdir(exist_ok=True)
    stop_at = minute(dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=2)
    config = tmp_path / "config.toml"
    config.write_text(config_text(stop_at, stop_at + dt.timedelta(hours=2)))
    instance = launch({"snoozebot-schedule": "busy-aware", "Name": "trainer"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vm_home = tmp_path / "vm-home"
    vm_home.mkdir()
    with FakeMetadata(aws={"instance-id": instance, "region": "us-east-1"}) as md, \
            running_agent(isolated_home, config, timeout=30) as agent:
        with agent.client() as admin:
            assert admin.post("/api/plugins/load", json={"plugin": "aws"}).status_code == 200
        vm_env = {
            "SNOOZEBOT_HOME": str(vm_home),
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": md.url,
            "GCE_METADATA_HOST": refused_host(),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        }
        yield World(agent, instance, vm_env, bin_dir, stop_at, cron_home)


def stored(home: Path, instance: str) -> dict[str, Any]:
    """The last report of ``instance`` in the state store of ``home``."""
    return ActivityStore.in_directory(home).for_provider("aws")[instance].to_dict()


@pytest.mark.both_backends
def test_a_busy_report_defers_the_stop_until_the_instance_is_idle(world: World, isolated_home: Path) -> None:
    world.gpu(90)
    res = world.check("--json")
    assert res.returncode == 0, res.stderr
    assert res.json()["idle"] is False
    assert f"activity of {world.instance} (aws) reported to {world.agent.url}" in res.stderr
    report = stored(isolated_home, world.instance)
    assert report["idle"] is False and report["readings"]["gpu"]["value"] == 90.0
    assert not list(Path(world.vm_env["SNOOZEBOT_HOME"]).glob("*.sqlite3"))  # nothing kept on the instance

    # The stop boundary passes while the instance is busy: deferred, and it keeps running.
    row = world.run_at(world.stop_at + dt.timedelta(minutes=1))
    assert (row["action"], row["ok"], row["error"]) == ("defer", True, None)
    assert state(world.instance) == "running"
    explained = world.schedule("explain", world.instance, "-p", "aws", "--now",
                               (world.stop_at + dt.timedelta(minutes=1)).isoformat())
    assert explained.returncode == 0, explained.stderr
    assert re.search(r"deferred: reported busy \d+ min before now \(gpu 90%\), within unless_busy 30m",
                     explained.stdout), explained.stdout
    assert "activity      busy" in explained.stdout

    # No boundary in the next window, but the deferred stop is tried again: still busy.
    row = world.run_at(world.stop_at + dt.timedelta(minutes=5))
    assert row["action"] == "defer" and "deferred, tried again" in world.schedule(
        "explain", world.instance, "-p", "aws", "--json",
        "--now", (world.stop_at + dt.timedelta(minutes=5, seconds=30)).isoformat()).json()["reason"]

    # The instance goes quiet and says so: the next run makes the stop it owed.
    world.gpu(0)
    res = world.check()
    assert res.returncode == 0, res.stderr
    assert stored(isolated_home, world.instance)["idle"] is True
    row = world.run_at(world.stop_at + dt.timedelta(minutes=6))
    assert (row["action"], row["ok"]) == ("stop", True)
    assert state(world.instance) in ("stopping", "stopped")
    assert json.loads((world.cron_home / "schedule-deferred.json").read_text()) == {"providers": {}}


def test_a_stale_busy_report_does_not_hold_the_stop(world: World, isolated_home: Path) -> None:
    world.gpu(90)
    assert world.check().returncode == 0
    at = dt.datetime.fromisoformat(stored(isolated_home, world.instance)["at"])
    # 31 minutes after the report: older than unless_busy, so the stop boundary in the window stops it.
    late = max(at + dt.timedelta(minutes=31), world.stop_at + dt.timedelta(minutes=1))
    row = world.run_at(late)
    assert (row["action"], row["ok"]) == ("stop", True)


def test_a_report_after_the_pretended_now_does_not_count(world: World, isolated_home: Path) -> None:
    world.gpu(90)
    assert world.check().returncode == 0
    # A rehearsal of yesterday's stop: the report is from "the future" and holds nothing back.
    row = world.run_at(world.stop_at - dt.timedelta(days=1) + dt.timedelta(minutes=1))
    assert row["action"] == "stop"


@pytest.mark.both_backends
def test_the_instances_page_shows_the_last_report(world: World) -> None:
    world.gpu(90)
    assert world.check().returncode == 0
    with httpx.Client(base_url=world.agent.url, timeout=30) as browser:
        form = browser.get("/ui/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
        assert nonce, form.text
        signed = browser.post("/ui/login", data={"nonce": nonce.group(1), "token": world.agent.tokens["viewer"]})
        assert signed.status_code == 303, signed.text
        page = browser.get("/ui/instances", params={"provider": "aws"})
    assert page.status_code == 200
    assert "<th scope=\"col\">Activity</th>" in page.text
    assert re.search(r'data-label="Activity" class="wrap">busy just now: gpu 90%</td>', page.text), page.text


def test_reports_need_a_reporter_or_an_operator_and_a_known_instance(world: World) -> None:
    body = {"idle": True, "readings": {}}
    path = f"/api/instances/aws/{world.instance}/activity"
    for who, status in ((None, 401), ("viewer", 403), ("reporter", 200), ("operator", 200), ("admin", 200)):
        with world.agent.client(who) as client:
            answer = client.post(path, json=body)
        assert answer.status_code == status, (who, answer.text)
    with world.agent.client("reporter") as client:
        missing = client.post("/api/instances/aws/i-0000000000000dead/activity", json=body)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "instance_not_found"
        bad = client.post(path, json={"idle": "maybe"})
        assert bad.status_code == 422
        bad = client.post(path, json={"idle": True, "readings": {"<b>": None}})
        assert bad.status_code == 422
        # A reporter reads nothing and acts on nothing.
        for method, other in (("GET", "/api/plugins"), ("GET", "/api/providers/aws/instances"),
                              ("GET", f"/api/providers/aws/instances/{world.instance}"), ("GET", "/api/tokens"),
                              ("GET", "/metrics"), ("GET", "/openapi.json"),
                              ("POST", f"/api/providers/aws/instances/{world.instance}/stop")):
            refused = client.request(method, other, json={} if method == "POST" else None)
            assert refused.status_code == 403, (other, refused.text)
    assert state(world.instance) == "running"
    # The CLI's side of the same refusals: one line each, the documented exit codes.
    res = world.check(token="viewer")
    assert res.returncode == 2 and "the agent refused the token" in res.stderr and "Traceback" not in res.stderr


def test_an_unknown_instance_and_an_agent_that_is_gone(world: World) -> None:
    with FakeMetadata(aws={"instance-id": "i-0000000000000dead", "region": "us-east-1"}) as md:
        res = run_cli(
            "idle", "check", *ALWAYS_IDLE, "--report",
            env={**world.vm_env, "AWS_EC2_METADATA_SERVICE_ENDPOINT": md.url,
                 "SNOOZEBOT_AGENT_URL": world.agent.url, "SNOOZEBOT_TOKEN": world.agent.tokens["reporter"]},
        )
    assert res.returncode == 1 and "i-0000000000000dead" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("idle", "check", *ALWAYS_IDLE, "--report", "--agent", f"http://{refused_host()}",
                  env={**world.vm_env, "SNOOZEBOT_TOKEN": world.agent.tokens["reporter"]})
    assert res.returncode == 3 and "cannot reach the agent" in res.stderr


@pytest.mark.both_backends
def test_without_an_agent_the_report_goes_to_the_state_store(state_backend: str, moto_ec2: str, tmp_path: Path,
                                                             isolated_home: Path) -> None:
    """Into the state directory's store file, or, with a database, where a `schedule run` on another
    machine (another state directory) finds it."""
    stop_at = minute(dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=2)
    config = tmp_path / "config.toml"
    config.write_text(config_text(stop_at, stop_at + dt.timedelta(hours=2)))
    instance = launch({"snoozebot-schedule": "busy-aware"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text('#!/bin/sh\necho "75"\n')
    (bin_dir / "nvidia-smi").chmod(0o755)
    vm_home = isolated_home if state_backend == "sqlite" else tmp_path / "vm-home"
    vm_home.mkdir(exist_ok=True)
    with FakeMetadata(aws={"instance-id": instance, "region": "us-east-1"}) as md:
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": md.url, "GCE_METADATA_HOST": refused_host(),
               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SNOOZEBOT_HOME": str(vm_home)}
        res = run_cli("idle", "check", *ALWAYS_IDLE, "--report", env=env)
        assert res.returncode == 0, res.stderr
        where = isolated_home / "audit.sqlite3" if state_backend == "sqlite" else "the database at 127.0.0.1:"
        assert f"reported to {where}" in res.stderr
        dry = run_cli("idle", "check", *ALWAYS_IDLE, "--report", "--dry-run", env=env)
        assert dry.returncode == 0 and "dry run: activity not reported" in dry.stderr
    assert stored(isolated_home, instance)["readings"]["gpu"]["value"] == 75.0
    res = run_cli("schedule", "run", "-p", "aws", "--now", (stop_at + dt.timedelta(minutes=1)).isoformat(), "--json")
    assert res.returncode == 0, res.stderr
    assert next(r for r in res.json() if r["id"] == instance)["action"] == "defer"
    assert state(instance) == "running"

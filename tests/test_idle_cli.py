"""`snoozebot idle check` end to end: the real CLI on this machine, a fake metadata server on
loopback naming a moto EC2 instance (a fake GCE VM, a fake ARM VM), and fake `nvidia-smi`
programs on PATH to make the machine look busy (or broken). Generous thresholds make the real
readings idle. The audited stops (``both_backends``) run on SQLite and on PostgreSQL; idle-since
stays in the state directory on both.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import boto3
import pytest
from conftest import leftover_workers, run_cli
from fake_metadata import FakeMetadata, refused_host
from state_rows import select

AMI = "ami-12c6146b"
ALWAYS_IDLE = ["--cpu", "100", "--network", "1000000", "--disk", "1000000", "--ignore-sessions"]


def launch(count: int) -> list[str]:
    reply = boto3.client("ec2").run_instances(ImageId=AMI, MinCount=count, MaxCount=count)
    return [i["InstanceId"] for i in reply["Instances"]]


def states(ids: list[str]) -> dict[str, str]:
    reply = boto3.client("ec2").describe_instances(InstanceIds=ids)
    return {i["InstanceId"]: i["State"]["Name"] for r in reply["Reservations"] for i in r["Instances"]}


@pytest.fixture
def machine(moto_ec2: str, tmp_path: Path):
    """Two moto instances; the metadata server says we are the first one. Yields (ids, env, bin dir)."""
    ids = launch(2)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gpu(bin_dir, 'echo "0"')
    with FakeMetadata(aws={"instance-id": ids[0], "region": "us-east-1"}) as md:
        env = {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": md.url,
            "GCE_METADATA_HOST": refused_host(),
            "SNOOZEBOT_AZURE_IMDS_ENDPOINT": f"http://{refused_host()}",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        }
        yield ids, env, bin_dir


def gpu(bin_dir: Path, script: str) -> None:
    path = bin_dir / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def idle_check(env: dict[str, str], *args: str):
    return run_cli("idle", "check", *args, env=env)


@pytest.mark.both_backends
def test_idle_for_the_nap_time_stops_this_instance_and_only_it(machine, isolated_home: Path) -> None:
    ids, env, _ = machine
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", "0", "--json")
    assert res.returncode == 0, res.stderr
    doc = res.json()
    assert list(doc) == ["idle", "idle_since", "readings", "action", "instance"]
    assert (doc["idle"], doc["action"]) == (True, "stop")
    assert doc["instance"]["id"] == ids[0] and doc["instance"]["provider"] == "aws"
    assert doc["readings"]["gpu"]["value"] == 0.0
    assert states(ids) == {ids[0]: "stopped", ids[1]: "running"}
    rows = select(isolated_home, "SELECT instance, action, source, result FROM attempts")
    assert rows == [(ids[0], "stop", "idle", "ok")]
    assert not (isolated_home / "idle.json").exists()
    assert leftover_workers(isolated_home) == []


def test_the_nap_time_is_remembered_across_runs(machine, isolated_home: Path) -> None:
    ids, env, _ = machine
    first = idle_check(env, *ALWAYS_IDLE, "--naptime", "90s", "--json")
    assert first.returncode == 0, first.stderr
    assert (first.json()["idle"], first.json()["action"], first.json()["instance"]) == (True, "none", None)
    since = first.json()["idle_since"]
    assert json.loads((isolated_home / "idle.json").read_text()) == {"idle_since": since}
    second = idle_check(env, *ALWAYS_IDLE, "--naptime", "90s", "--json")
    assert (second.json()["idle_since"], second.json()["action"]) == (since, "none")
    # Two minutes later (the state file is what two real minutes would have left).
    earlier = dt.datetime.fromisoformat(since) - dt.timedelta(minutes=2)
    (isolated_home / "idle.json").write_text(json.dumps({"idle_since": earlier.isoformat()}))
    third = idle_check(env, *ALWAYS_IDLE, "--naptime", "90s", "--json")
    assert third.returncode == 0, third.stderr
    assert third.json()["action"] == "stop"
    assert states(ids)[ids[0]] == "stopped"


def test_idle_since_from_before_the_last_boot_is_discarded(machine, isolated_home: Path) -> None:
    import psutil

    ids, env, _ = machine
    boot = dt.datetime.fromtimestamp(psutil.boot_time(), dt.UTC)
    stale = boot - dt.timedelta(days=2)
    (isolated_home / "idle.json").write_text(json.dumps({"idle_since": stale.isoformat()}))
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", "1h", "--json")
    assert res.returncode == 0, res.stderr
    since = dt.datetime.fromisoformat(res.json()["idle_since"])
    assert since > boot and res.json()["action"] == "none"
    assert states(ids)[ids[0]] == "running"


def test_a_busy_gpu_keeps_the_machine_and_resets_idle_since(machine, isolated_home: Path) -> None:
    ids, env, bin_dir = machine
    assert idle_check(env, *ALWAYS_IDLE, "--naptime", "1h").returncode == 0
    assert (isolated_home / "idle.json").exists()
    gpu(bin_dir, 'echo "0"; echo "93"')
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", "0", "--json")
    assert res.returncode == 0, res.stderr
    doc = res.json()
    assert (doc["idle"], doc["idle_since"], doc["action"]) == (False, None, "none")
    assert doc["readings"]["gpu"] == {"value": 93.0, "unit": "%", "threshold": 5.0, "idle": False, "error": None}
    assert not (isolated_home / "idle.json").exists()
    assert states(ids)[ids[0]] == "running"


def test_a_failed_measurement_never_stops(machine) -> None:
    ids, env, bin_dir = machine
    gpu(bin_dir, 'echo "GPU is lost" >&2; exit 15')
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", "0", "--json")
    assert res.returncode == 0, res.stderr
    doc = res.json()
    assert (doc["idle"], doc["action"]) == (False, "none")
    assert doc["readings"]["gpu"]["error"] == "nvidia-smi exited with 15: GPU is lost"
    assert states(ids)[ids[0]] == "running"


@pytest.mark.both_backends
def test_dry_run_reports_would_stop_and_changes_nothing(machine, isolated_home: Path) -> None:
    ids, env, _ = machine
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", "0", "--dry-run", "--json")
    assert res.returncode == 0, res.stderr
    assert (res.json()["action"], res.json()["instance"]["id"]) == ("would-stop", ids[0])
    assert states(ids)[ids[0]] == "running"
    assert not (isolated_home / "idle.json").exists()
    assert select(isolated_home, "SELECT id FROM attempts") == []


def test_options_that_already_match_the_identity_keep_its_worker(machine, isolated_home: Path) -> None:
    ids, env, _ = machine
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", "0", "-o", "region=us-east-1", "--json")
    assert res.returncode == 0, res.stderr
    assert (res.json()["action"], res.json()["instance"]["id"]) == ("stop", ids[0])
    assert states(ids) == {ids[0]: "stopped", ids[1]: "running"}
    assert leftover_workers(isolated_home) == []


def test_text_output(machine) -> None:
    _, env, _ = machine
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", "2h")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("idle: yes; idle since: ") and "action: none" in res.stdout
    assert "cpu" in res.stderr and "gpu" in res.stderr


def test_on_gcp_the_metadata_server_names_the_vm_and_hibernate_suspends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    from fake_gce import FakeComputeEngine, gcloud_free_environment

    setting, unsetting = gcloud_free_environment(tmp_path)
    for key in unsetting:
        monkeypatch.delenv(key, raising=False)
    with FakeComputeEngine(project="idle-project") as gce:
        gce.add_instance("us-central1-a", "trainer-1")
        gce.add_instance("us-central1-a", "trainer-2")
        with FakeMetadata(gce={"name": "trainer-1", "zone": "us-central1-a", "project": gce.project}) as md:
            env = {
                **setting,
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://{refused_host()}",
                "GCE_METADATA_HOST": md.host,
                "SNOOZEBOT_AZURE_IMDS_ENDPOINT": f"http://{refused_host()}",
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": gce.base_url,
                "PATH": str(tmp_path),  # no nvidia-smi: no GPU reading at all
            }
            res = idle_check(
                env, *ALWAYS_IDLE, "--naptime", "0", "--hibernate", "-o", "credentials=anonymous", "--json"
            )
        assert res.returncode == 0, res.stderr
        doc = res.json()
        assert (doc["action"], doc["instance"]["id"], doc["instance"]["provider"]) == (
            "stop",
            "us-central1-a/trainer-1",
            "gcp",
        )
        assert doc["readings"]["gpu"] is None
        assert gce.status("us-central1-a", "trainer-1") in ("SUSPENDING", "SUSPENDED")
        assert gce.status("us-central1-a", "trainer-2") == "RUNNING"
    assert leftover_workers(isolated_home) == []


def test_on_azure_imds_names_the_vm_and_its_subscription(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    from fake_arm import SUBSCRIPTION, FakeArm

    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    with FakeArm() as arm:
        arm.add_vm("ml-rg", "gpu-box")
        arm.add_vm("ml-rg", "gpu-box-2")
        imds = {"name": "gpu-box", "resourceGroupName": "ml-rg", "subscriptionId": SUBSCRIPTION}
        with FakeMetadata(azure=imds) as md:
            env = {
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://{refused_host()}",
                "GCE_METADATA_HOST": refused_host(),
                "SNOOZEBOT_AZURE_IMDS_ENDPOINT": md.url,
            }
            # No subscription is configured anywhere: the identity supplies it.
            res = idle_check(env, *ALWAYS_IDLE, "--naptime", "0", "-o", f"endpoint={arm.endpoint}", "--json")
        assert res.returncode == 0, res.stderr
        doc = res.json()
        assert (doc["action"], doc["instance"]["id"], doc["instance"]["provider"]) == ("stop", "ml-rg/gpu-box", "azure")
        assert arm.power("ml-rg", "gpu-box") in ("deallocating", "deallocated")
        assert arm.power("ml-rg", "gpu-box-2") == "running"
    assert leftover_workers(isolated_home) == []


def test_named_provider_without_identify_self_is_exit_2() -> None:
    res = run_cli("idle", "check", *ALWAYS_IDLE, "-p", "memory", "--naptime", "0")
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == (
        "snoozebot: error: provider 'memory' does not offer identify_self: its plugin does not implement it"
    )


def test_not_identifiable_is_exit_1_with_one_line(moto_ec2: str, tmp_path: Path) -> None:
    env = {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://{refused_host()}",
        "GCE_METADATA_HOST": refused_host(),
        "SNOOZEBOT_AZURE_IMDS_ENDPOINT": f"http://{refused_host()}",
    }
    res = run_cli("idle", "check", *ALWAYS_IDLE, "--naptime", "0", "--json", env=env)
    assert res.returncode == 1
    assert res.stdout == ""
    # Every installed provider's worker was started to learn whether it can tell; what a plugin
    # writes (the noisy fixture greets on stderr) is forwarded under its name, as always.
    lines = [line for line in res.stderr.strip().splitlines() if not line.startswith("snoozebot: [")]
    assert len(lines) == 1 and lines[0].startswith("snoozebot: error: cannot identify this instance")
    for cloud in ("aws", "azure", "gcp"):
        assert f"{cloud}: connection refused" in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--naptime", "soon"], "bad nap time 'soon'"),
        (["--cpu", "-1"], "Invalid value for '--cpu'"),
    ],
)
def test_bad_usage_is_exit_2(args: list[str], message: str) -> None:
    res = run_cli("idle", "check", *ALWAYS_IDLE, *args)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr


def test_bad_idle_config_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[idle]\nnaptime = "a while"\n')
    res = run_cli("idle", "check", "--json")
    assert res.returncode == 2
    assert "[idle]" in res.stderr and "bad nap time 'a while'" in res.stderr

"""`snoozebot instance ...` as a user types it, against moto's EC2 server on loopback.

The CLI runs in a subprocess with AWS_ENDPOINT_URL and dummy credentials in
its environment (the `moto_ec2` fixture); results are checked with boto3. The tests
marked ``both_backends`` (audited actions, locks) run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from conftest import SNOOZEBOT, leftover_workers, run_cli
from state_rows import store, wait_for_pending_attempt

from snoozebot.locks import InstanceLocks

AMI = "ami-12c6146b"
BAD = "i-0000000000000dead"
RESULT_KEYS = {"id", "provider", "ok", "state", "error", "target", "scope"}
INSTANCE_KEYS = {
    "id", "provider", "state", "raw_state", "name", "instance_type", "region", "zone", "launch_time", "tags",
    "public_ip", "private_ip", "target", "scope",
}


def launch(count: int = 1, tags: dict[str, str] | None = None) -> list[str]:
    ec2 = boto3.client("ec2")
    extra = {}
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    reply = ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, **extra)
    return [i["InstanceId"] for i in reply["Instances"]]


def states(ids: list[str]) -> dict[str, str]:
    reply = boto3.client("ec2").describe_instances(InstanceIds=ids)
    return {i["InstanceId"]: i["State"]["Name"] for r in reply["Reservations"] for i in r["Instances"]}


def assert_clean_failure(result, code: int) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("snoozebot: error: ") or "\nsnoozebot: error: " in result.stderr


# -- list and info --------------------------------------------------------------


def test_list_filters_are_tag_filters_and_terminated_are_left_out(moto_ec2: str) -> None:
    ml = launch(2, {"Team": "ml", "Name": "trainer"})
    web = launch(1, {"Team": "web"})
    gone = launch(1, {"Team": "ml"})
    boto3.client("ec2").terminate_instances(InstanceIds=gone)

    result = run_cli("instance", "list", "-p", "aws", "--filter", "Team=ml", "--json")
    assert result.returncode == 0, result.stderr
    doc = result.json()
    assert sorted(i["id"] for i in doc) == sorted(ml)
    assert all(set(i) == INSTANCE_KEYS for i in doc)
    assert {i["state"] for i in doc} == {"running"} and {i["name"] for i in doc} == {"trainer"}
    assert doc[0]["tags"]["Team"] == "ml" and doc[0]["launch_time"].endswith("+00:00")

    both = run_cli("instance", "list", "-p", "aws", "--filter", "Team=ml", "--filter", "Name=trainer", "--json")
    assert sorted(i["id"] for i in both.json()) == sorted(ml)
    assert [i["id"] for i in run_cli("instance", "list", "-p", "aws", "--filter", "Team=web", "--json").json()] == web
    every = run_cli("instance", "list", "-p", "aws", "-o", "include_terminated=true", "--json").json()
    assert gone[0] in {i["id"] for i in every}

    table = run_cli("instance", "list", "-p", "aws", "--filter", "Team=web")
    assert table.returncode == 0 and web[0] in table.stdout and "running" in table.stdout


def test_list_without_provider_covers_every_loaded_provider(moto_ec2: str) -> None:
    [iid] = launch(1, {"Team": "ml"})
    empty = run_cli("instance", "list", "--json")
    assert empty.returncode == 0 and empty.json() == [] and "plugins load" in empty.stderr

    assert run_cli("plugins", "load", "aws").returncode == 0
    assert run_cli("plugins", "load", "memory").returncode == 0
    result = run_cli("instance", "list", "--json")
    assert result.returncode == 0, result.stderr
    by_provider = {(i["provider"], i["id"]) for i in result.json()}
    assert ("aws", iid) in by_provider
    assert {("memory", f"mem-{n}") for n in range(3)} <= by_provider

    filtered = run_cli("instance", "list", "--filter", "team=ml", "--json").json()
    assert {i["provider"] for i in filtered} == {"memory"}  # aws tags are case-sensitive: Team, not team


def test_list_reports_a_failing_provider_and_still_shows_the_others(moto_ec2: str) -> None:
    launch(1)
    assert run_cli("plugins", "load", "aws").returncode == 0
    assert run_cli("plugins", "load", "memory").returncode == 0
    config = Path(os.environ["SNOOZEBOT_CONFIG"])
    config.write_text("[providers.aws]\nendpoint_url = 'http://127.0.0.1:9'\nmax_attempts = '1'\n")
    result = run_cli("instance", "list", "--json")
    assert result.returncode == 1
    assert {i["provider"] for i in result.json()} == {"memory"}
    assert "snoozebot: error: aws: cannot reach the EC2 endpoint" in result.stderr


def test_info_json_shape_and_unknown_id(moto_ec2: str) -> None:
    [iid] = launch(1, {"Name": "box"})
    result = run_cli("instance", "info", iid, "-p", "aws", "--json")
    assert result.returncode == 0, result.stderr
    doc = result.json()
    assert set(doc) == INSTANCE_KEYS and doc["id"] == iid and doc["name"] == "box" and doc["state"] == "running"

    missing = run_cli("instance", "info", BAD, "-p", "aws", "--json")
    assert_clean_failure(missing, 1)
    assert missing.stdout == "" and BAD in missing.stderr and "not found" in missing.stderr


# -- stop and start ---------------------------------------------------------------


def test_stop_then_start_with_wait(moto_ec2: str) -> None:
    ids = launch(2)
    stop = run_cli("instance", "stop", *ids, "-p", "aws", "--json")
    assert stop.returncode == 0, stop.stderr
    doc = stop.json()
    assert [r["id"] for r in doc] == ids and all(set(r) == RESULT_KEYS for r in doc)
    assert all(r["ok"] and r["error"] is None and r["provider"] == "aws" for r in doc)
    assert {r["state"] for r in doc} <= {"stopping", "stopped"}
    assert set(states(ids).values()) == {"stopped"}

    again = run_cli("instance", "stop", ids[0], "-p", "aws", "--json")
    assert again.returncode == 0 and again.json()[0]["ok"]  # stopping a stopped instance succeeds

    start = run_cli("instance", "start", *ids, "-p", "aws", "--wait", "--json")
    assert start.returncode == 0, start.stderr
    assert {r["state"] for r in start.json()} == {"running"}
    assert set(states(ids).values()) == {"running"}

    waited = run_cli("instance", "stop", *ids, "-p", "aws", "--wait", "--hibernate")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.count("stopped") == 2 and set(states(ids).values()) == {"stopped"}


def test_dry_run_changes_nothing_and_says_what_would_happen(moto_ec2: str) -> None:
    ids = launch(2)
    result = run_cli("instance", "stop", *ids, "-p", "aws", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert [(r["id"], r["ok"], r["state"]) for r in result.json()] == [(i, True, "running") for i in ids]
    assert set(states(ids).values()) == {"running"}

    human = run_cli("instance", "stop", ids[0], BAD, "-p", "aws", "--dry-run")
    assert human.returncode == 1
    assert "would stop" in human.stdout and "Dry run: nothing was changed." in human.stderr
    assert set(states(ids).values()) == {"running"}


@pytest.mark.both_backends
def test_unknown_ids_fail_alone_with_exit_1(moto_ec2: str) -> None:
    [iid] = launch()
    result = run_cli("instance", "stop", iid, BAD, "not-an-id", "-p", "aws", "--json")
    assert_clean_failure(result, 1)
    doc = {r["id"]: r for r in result.json()}
    assert doc[iid]["ok"] and not doc[BAD]["ok"] and not doc["not-an-id"]["ok"]
    assert doc[BAD]["error"]["code"] == "instance_not_found" and doc[BAD]["state"] is None
    assert "2 of 3" in result.stderr
    assert states([iid]) == {iid: "stopped"}


def test_stop_protected_instance_is_permission_denied_exit_1(moto_ec2: str) -> None:
    ids = launch(3)
    boto3.client("ec2").modify_instance_attribute(InstanceId=ids[1], DisableApiStop={"Value": True})
    result = run_cli("instance", "stop", *ids, "-p", "aws", "--json")
    assert_clean_failure(result, 1)
    doc = {r["id"]: r for r in result.json()}
    assert doc[ids[1]]["error"]["code"] == "permission_denied"
    assert doc[ids[0]]["ok"] and doc[ids[2]]["ok"]
    assert states(ids) == {ids[0]: "stopped", ids[1]: "running", ids[2]: "stopped"}


@pytest.mark.both_backends
def test_mixed_batch_of_a_hundred(moto_ec2: str) -> None:
    good = launch(99)
    result = run_cli("instance", "stop", *good[:30], BAD, *good[30:], "-p", "aws", "--json")
    assert result.returncode == 1
    doc = result.json()
    assert len(doc) == 100 and sum(r["ok"] for r in doc) == 99
    assert [r["id"] for r in doc if not r["ok"]] == [BAD]
    assert set(states(good).values()) == {"stopped"}
    audited = run_cli("history", "--limit", "200", "--json").json()  # one batch of audit rows
    assert sorted(r["instance"] for r in audited) == sorted([*good, BAD])
    assert [r["result"] for r in audited].count("ok") == 99 and not [r for r in audited if not r["finished"]]


# -- usage, configuration and availability errors ------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["instance", "stop", "-p", "aws"], 2, "ID"),
        (["instance", "stop", "i-1"], 2, "--provider"),
        (["instance", "list", "-p", "aws", "--filter", "Team"], 2, "KEY=VALUE"),
        (["instance", "stop", " ", "-p", "aws"], 2, "must not be empty"),
        (["instance", "stop", "i-1", "-p", "nope"], 3, "no provider named 'nope'"),
        (["instance", "list", "-p", "aws", "-o", "regin=eu-west-1"], 2, "regin"),
        (["instance", "stop", "i-1", "-p", "aws", "--timeout", "0"], 2, "timeout"),
    ],
)
def test_bad_usage_exit_codes(moto_ec2: str, args: list[str], code: int, text: str) -> None:
    result = run_cli(*args)
    assert result.returncode == code, result.stderr
    assert text in result.stderr and "Traceback" not in result.stderr and result.stdout == ""


def test_missing_credentials_and_region_are_configuration_errors(moto_ec2: str, tmp_path: Path) -> None:
    no_files = {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    creds = run_cli("instance", "list", "-p", "aws", env={**no_files, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    assert_clean_failure(creds, 2)
    assert "no AWS credentials" in creds.stderr and "AWS_PROFILE" in creds.stderr

    region = run_cli("instance", "stop", "i-1", "-p", "aws", env={**no_files, "AWS_DEFAULT_REGION": ""})
    assert_clean_failure(region, 2)
    assert "region" in region.stderr and "AWS_DEFAULT_REGION" in region.stderr


def test_endpoint_region_and_profile_options(moto_ec2: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    [iid] = launch()
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile lab]\nregion = us-east-1\naws_access_key_id = a\naws_secret_access_key = b\n")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    result = run_cli("instance", "info", iid, "-p", "aws", "-o", f"endpoint_url={moto_ec2}", "-o", "profile=lab", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()["region"] == "us-east-1"


# -- lock, audit, interruption -----------------------------------------------------------


@pytest.mark.both_backends
def test_second_run_waits_for_the_lock_then_gives_up(moto_ec2: str, isolated_home: Path) -> None:
    [iid] = launch()
    with InstanceLocks(isolated_home, store(isolated_home)).hold("aws", [iid], timeout=1):
        result = run_cli("instance", "stop", iid, "-p", "aws", "--lock-timeout", "0.5")
        dry = run_cli("instance", "stop", iid, "-p", "aws", "--dry-run", "--json")
    assert_clean_failure(result, 1)
    assert f"another snoozebot run is acting on aws instance {iid}" in result.stderr and "0.5s" in result.stderr
    assert dry.returncode == 0  # a dry run changes nothing and takes no lock
    assert states([iid]) == {iid: "running"}
    assert run_cli("instance", "stop", iid, "-p", "aws").returncode == 0


@pytest.mark.both_backends
def test_every_attempt_is_in_the_audit_log(moto_ec2: str) -> None:
    [iid] = launch()
    run_cli("instance", "stop", iid, BAD, "-p", "aws")
    run_cli("instance", "start", iid, "-p", "aws", "--dry-run")
    history = run_cli("history", "--json")
    assert history.returncode == 0, history.stderr
    rows = history.json()
    assert [(r["instance"], r["action"], r["dry_run"], r["result"]) for r in rows] == [
        (iid, "start", True, "ok"),
        (BAD, "stop", False, "error"),
        (iid, "stop", False, "ok"),
    ]
    assert rows[1]["error"]["code"] == "instance_not_found"
    assert all(r["provider"] == "aws" and r["actor"].startswith("cli:") and r["finished"] for r in rows)


@pytest.mark.both_backends
def test_ctrl_c_exits_130_leaves_no_worker_and_a_pending_trace(isolated_home: Path) -> None:
    proc = subprocess.Popen(
        [SNOOZEBOT, "instance", "stop", "mem-0", "-p", "memory", "-o", "delay=30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_pending_attempt(isolated_home)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    deadline = time.monotonic() + 3  # an orphaned worker exits on EOF or when it sees its host gone
    while leftover_workers(isolated_home) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftover_workers(isolated_home) == []
    rows = json.loads(run_cli("history", "--json").stdout)
    assert [(r["instance"], r["result"]) for r in rows] == [("mem-0", "pending")]


# -- waiting (pure: a fake clock and a scripted instance reader) ------------------------


def _reader(script: dict[str, list[str]]):
    from snoozebot.sdk import Instance, InstanceNotFound, InstanceState

    def get(iid: str) -> Instance:
        if iid not in script:
            raise InstanceNotFound(f"instance {iid} not found")
        seen = script[iid].pop(0) if len(script[iid]) > 1 else script[iid][0]
        return Instance(id=iid, provider="fake", state=InstanceState.parse(seen), raw_state=seen)

    return get


def test_wait_for_polls_until_the_target_state() -> None:
    from snoozebot.sdk import Instance, InstanceNotFound
    from snoozebot.waiting import target_states, wait_for

    now = [0.0]
    settled: list[str] = []
    done = wait_for(
        _reader({"a": ["stopping", "stopping", "stopped"], "b": ["stopped"], "c": ["stopping", "terminated"]}),
        ["a", "b", "c", "gone"],
        target_states("stop"),
        timeout=60,
        on_settled=lambda iid, _value: settled.append(iid),
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert isinstance(done["a"], Instance) and done["a"].state.value == "stopped"
    assert isinstance(done["b"], Instance)
    assert "terminated" in str(done["c"]) and isinstance(done["gone"], InstanceNotFound)
    assert sorted(settled) == ["a", "b", "c", "gone"]


def test_wait_for_gives_up_at_the_timeout_naming_the_last_state() -> None:
    from snoozebot.waiting import WaitTimeout, target_states, wait_for

    now = [0.0]
    done = wait_for(
        _reader({"a": ["pending"]}),
        ["a"],
        target_states("start"),
        timeout=5,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert isinstance(done["a"], WaitTimeout) and str(done["a"]) == "instance a still pending after 5s"
    assert 5 <= now[0] < 7
    assert target_states("stop", hibernate=True) > target_states("stop")


def test_start_wait_through_the_cli_reports_the_final_state(isolated_home: Path, tmp_path: Path) -> None:
    state = tmp_path / "mem.json"
    run_cli("instance", "stop", "mem-0", "-p", "memory", "-o", f"state_file={state}")
    result = run_cli(
        "instance", "start", "mem-0", "-p", "memory", "-o", f"state_file={state}", "--wait", "--json",
    )
    assert result.returncode == 0 and result.json()[0]["state"] == "running"


# -- progress only on a terminal ----------------------------------------------------------


def _run_in_pty(argv: list[str], timeout: float = 60) -> tuple[int, str]:
    import pty
    import select

    main_fd, child_fd = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color"}  # a terminal says what it is (CI may have TERM unset or dumb)
    proc = subprocess.Popen(argv, stdin=child_fd, stdout=child_fd, stderr=child_fd, close_fds=True, env=env)
    os.close(child_fd)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main_fd], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(main_fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(main_fd)
    return proc.wait(timeout=10), out.decode(errors="replace")


def test_progress_is_shown_on_a_terminal_and_never_in_a_pipe(isolated_home: Path, tmp_path: Path) -> None:
    args = ["instance", "stop", "mem-0", "mem-1", "mem-2", "-p", "memory", "-o", f"state_file={tmp_path / 'm.json'}"]
    code, screen = _run_in_pty([SNOOZEBOT, *args, "-o", "delay=1", "--wait"])  # time for a refresh under load
    assert code == 0
    assert "Stopping 3 instance(s)" in screen and "3/3" in screen and "Waiting until stopped" in screen
    assert "\x1b[" in screen

    piped = run_cli(*args, "--wait")
    assert piped.returncode == 0
    assert "\x1b[" not in piped.stdout + piped.stderr and "Stopping" not in piped.stderr


def test_the_host_never_imports_boto3(moto_ec2: str) -> None:
    import sys

    [iid] = launch()
    code = (
        "import sys; from snoozebot.cli.main import run\n"
        f"codes = [run(['instance', 'list', '-p', 'aws', '--json']), run(['instance', 'stop', '{iid}', '-p', 'aws', '--wait'])]\n"
        "assert codes == [0, 0], codes\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'snoozebot_aws'))\n"
        "assert not leaked, leaked\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert states([iid]) == {iid: "stopped"}

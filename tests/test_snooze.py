"""Snooze overrides end to end: `instance snooze` and `POST .../snooze` keep an instance out of
`schedule run` stops until WHEN; `--clear` gives it back. The real CLI in subprocesses, the
`memory` fixture provider backed by a file, a real agent on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from test_agent_harness import running_agent

from snoozebot.audit import AuditLog
from snoozebot.overrides import OverrideStore

CONFIG = """
[providers.memory]
state_file = "{state_file}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
"""
MON_1905 = "2027-01-04T19:05:00+01:00"  # in the future, so a snooze until Tuesday is accepted
TUE_0805 = "2027-01-05T08:05:00+01:00"
TUE_1905 = "2027-01-05T19:05:00+01:00"
UNTIL = "2027-01-05T12:00:00+01:00"


@pytest.fixture
def fleet(tmp_path: Path, isolated_home: Path) -> Path:
    state_file = tmp_path / "instances.json"
    (tmp_path / "config.toml").write_text(CONFIG.format(state_file=state_file))
    tags = {"snoozebot-schedule": "office-hours"}
    state_file.write_text(json.dumps({f"mem-{i}": {"state": "running", "name": "m", "tags": tags} for i in range(3)}))
    return state_file


def states(state_file: Path) -> dict[str, str]:
    return {iid: rec["state"] for iid, rec in json.loads(state_file.read_text()).items()}


def actions(*args: str) -> list[str]:
    res = run_cli("schedule", "run", "-p", "memory", "--json", *args)
    assert res.returncode == 0, res.stderr
    return [row["action"] for row in res.json()]


def notes(home: Path) -> list[tuple[str, str, str, str]]:
    """The audit log's snooze rows, oldest first: ``(instance, source, action, actor)``."""
    rows = reversed(AuditLog.in_directory(home).entries(limit=1000))
    return [(e.instance, e.source, e.action, e.actor) for e in rows if e.source == "snooze"]


@pytest.mark.both_backends
def test_a_snoozed_instance_is_left_alone_until_when_then_cleared(fleet: Path, isolated_home: Path) -> None:
    res = run_cli("instance", "snooze", "mem-1", "-p", "memory", "--until", UNTIL)
    assert res.returncode == 0, res.stderr
    assert "snoozed until 2027-01-05T11:00:00+00:00" in res.stderr
    assert actions("--now", MON_1905) == ["stop", "skip", "stop"]
    assert states(fleet) == {"mem-0": "stopped", "mem-1": "running", "mem-2": "stopped"}
    explained = run_cli("schedule", "explain", "mem-1", "-p", "memory", "--now", MON_1905, "--json").json()
    assert explained["action"] == "skip" and "instance snooze" in explained["reason"]
    assert explained["overrides"] == [
        {"provider": "memory", "instance": "mem-1", "kind": "snooze", "boundary": None,
         "until": "2027-01-05T11:00:00+00:00", "actor": explained["overrides"][0]["actor"]}
    ]
    text = run_cli("schedule", "explain", "mem-1", "-p", "memory", "--now", MON_1905)
    assert "snoozed until 2027-01-05T12:00+01:00" in text.stdout
    shown = run_cli("schedule", "show", "office-hours", "--now", MON_1905, "--json").json()
    assert [o["instance"] for o in shown["overrides"]] == ["mem-1"]
    # Tuesday 08:05 starts the others; the snooze still holds mem-1 (running: nothing to do anyway).
    assert actions("--now", TUE_0805) == ["start", "skip", "start"]
    # Tuesday 19:05 the snooze has passed by itself: mem-1 is stopped with the others.
    assert actions("--now", TUE_1905) == ["stop", "stop", "stop"]
    assert [n[:3] for n in notes(isolated_home)] == [("mem-1", "snooze", "snooze")]


@pytest.mark.both_backends
def test_clear_removes_the_snooze(fleet: Path, isolated_home: Path) -> None:
    assert run_cli("instance", "snooze", "mem-0", "mem-2", "-p", "memory", "--until", "3d").returncode == 0
    res = run_cli("instance", "snooze", "mem-2", "-p", "memory", "--clear")
    assert res.returncode == 0 and "snooze cleared" in res.stderr
    assert "was not snoozed" in run_cli("instance", "snooze", "mem-2", "-p", "memory", "--clear").stderr
    assert [n[:3] for n in notes(isolated_home)] == [
        ("mem-0", "snooze", "snooze"), ("mem-2", "snooze", "snooze"), ("mem-2", "snooze", "unsnooze")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "2020-01-01T00:00:00Z"], "has already passed"),
        (["--until", "2027-01-05T12:00:00"], "with an offset or Z"),
        (["--until", "soon"], "bad time 'soon'"),
        ([], "exactly one of --until WHEN and --clear"),
        (["--until", "2h", "--clear"], "exactly one of"),
    ],
)
def test_bad_snooze_usage_is_exit_2(fleet: Path, isolated_home: Path, args: list[str], message: str) -> None:
    res = run_cli("instance", "snooze", "mem-0", "-p", "memory", *args)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert notes(isolated_home) == [] and OverrideStore.in_directory(isolated_home).rows(dt.datetime.now(dt.UTC)) == []


def _post(agent: Any, who: str, path: str, body: Any = None, method: str = "POST") -> Any:
    with agent.client(who) as client:
        return client.request(method, path, json=body)


@pytest.mark.both_backends
def test_the_rest_snooze_route_is_operator_only_and_honoured(tmp_path: Path, fleet: Path, isolated_home: Path) -> None:
    with running_agent(isolated_home, tmp_path / "config.toml") as agent:
        assert _post(agent, "admin", "/api/plugins/load", {"plugin": "memory"}).status_code == 200
        path = "/api/providers/memory/instances/mem-2/snooze"
        assert _post(agent, "viewer", path, {"until": UNTIL}).status_code == 403
        assert _post(agent, "operator", path, {"until": "2020-01-01T00:00:00Z"}).status_code == 422
        assert _post(agent, "operator", path, {"until": "2027-01-05T12:00:00"}).status_code == 422
        assert _post(agent, "operator", "/api/providers/memory/instances/nope/snooze", {"until": UNTIL}).status_code == 404
        res = _post(agent, "operator", path, {"until": UNTIL})
        assert res.status_code == 200, res.text
        assert res.json() == {"id": "mem-2", "provider": "memory", "snooze_until": "2027-01-05T11:00:00+00:00"}
        assert _post(agent, "operator", "/api/providers/memory/instances/mem-0/snooze", {"until": UNTIL}).status_code == 200
        cleared = _post(agent, "operator", "/api/providers/memory/instances/mem-0/snooze", method="DELETE")
        assert cleared.status_code == 200 and cleared.json()["snooze_until"] is None
    assert actions("--now", MON_1905) == ["stop", "stop", "skip"]
    assert notes(isolated_home) == [
        ("mem-2", "snooze", "snooze", "operator"), ("mem-0", "snooze", "snooze", "operator"),
        ("mem-0", "snooze", "unsnooze", "operator"),
    ]

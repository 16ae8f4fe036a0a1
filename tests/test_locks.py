"""One lock discipline: acting paths never act on one instance at the same moment, and
different instances are still acted on in parallel.

The memory fixture provider sleeps in every call (``delay``) and writes the
wall-clock interval of each stop and start to a call log; the paths race for
real: CLI processes, `schedule run` and the agent's REST API, on one machine. The tests
marked ``both_backends`` run on SQLite and on PostgreSQL (its advisory locks beside the files).
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import SNOOZEBOT, run_cli
from state_rows import select, store
from test_agent_harness import running_agent

from snoozebot.locks import InstanceLocks

CONFIG = """
[providers.memory]
state_file = "{state_file}"
delay = "{delay}"
call_log = "{call_log}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
"""
MON_1905 = "2026-11-23T19:05:00+01:00"


def configure(tmp_path: Path, *, delay: float) -> Path:
    call_log = tmp_path / "calls.jsonl"
    state_file = tmp_path / "instances.json"
    (tmp_path / "config.toml").write_text(
        CONFIG.format(state_file=state_file, delay=delay, call_log=call_log)
    )
    seed = {
        f"mem-{i}": {"state": "running", "name": f"m{i}", "tags": {"snoozebot-schedule": "office-hours"}}
        for i in range(3)
    }
    state_file.write_text(json.dumps(seed))
    return call_log


def calls(call_log: Path, instance_id: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in call_log.read_text().splitlines()] if call_log.exists() else []
    return sorted((c for c in lines if c["id"] == instance_id), key=lambda c: c["start"])


def overlaps(intervals: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(a, b) for a, b in zip(intervals, intervals[1:]) if b["start"] < a["end"]]


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([SNOOZEBOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.both_backends
def test_cli_schedule_and_agent_racing_on_one_instance_take_turns(tmp_path: Path, isolated_home: Path) -> None:
    call_log = configure(tmp_path, delay=0.3)
    assert run_cli("plugins", "load", "memory").returncode == 0
    with running_agent(isolated_home, tmp_path / "config.toml", timeout=30) as agent:
        answers: list[int] = []

        def through_agent(action: str) -> None:
            with agent.client("operator") as http:
                answers.append(http.post(f"/api/providers/memory/instances/mem-0/{action}").status_code)

        threads = [threading.Thread(target=through_agent, args=(a,)) for a in ("stop", "start")]
        procs = [
            spawn("instance", "stop", "mem-0", "-p", "memory"),
            spawn("instance", "start", "mem-0", "-p", "memory"),
            spawn("instance", "stop", "mem-0", "-p", "memory"),
            spawn("schedule", "run", "-p", "memory", "--now", MON_1905),
        ]
        for thread in threads:
            thread.start()
        outputs = [p.communicate(timeout=60) for p in procs]
        for thread in threads:
            thread.join(timeout=60)
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert answers == [200, 200]
    on_mem0 = calls(call_log, "mem-0")
    assert len(on_mem0) >= 5, on_mem0  # four CLI/agent actions, and the schedule's stop (if it found it running)
    assert overlaps(on_mem0) == []
    assert len({c["pid"] for c in on_mem0}) >= 2  # the calls came from several processes


@pytest.mark.both_backends
def test_actions_on_different_instances_run_in_parallel(tmp_path: Path) -> None:
    call_log = configure(tmp_path, delay=1.0)
    procs = [spawn("instance", "stop", f"mem-{i}", "-p", "memory") for i in (0, 1)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    [first], [second] = calls(call_log, "mem-0"), calls(call_log, "mem-1")
    assert max(first["start"], second["start"]) < min(first["end"], second["end"])


@pytest.mark.both_backends
def test_an_instance_held_past_the_lock_timeout_is_exit_1_and_nothing_is_done(
    tmp_path: Path, isolated_home: Path
) -> None:
    call_log = configure(tmp_path, delay=0)
    with InstanceLocks(isolated_home, store(isolated_home)).hold("memory", ["mem-0"], timeout=1):
        res = run_cli("instance", "stop", "mem-0", "mem-1", "-p", "memory", "--lock-timeout", "0.5")
        scheduled = run_cli("schedule", "run", "-p", "memory", "--now", MON_1905, "--lock-timeout", "0.5")
    assert res.returncode == 1, res.stderr
    assert "mem-0" in res.stderr and "--lock-timeout" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert scheduled.returncode == 1 and "mem-0" in scheduled.stderr, scheduled.stderr
    assert calls(call_log, "mem-0") == [] and calls(call_log, "mem-1") == []
    assert select(isolated_home, "SELECT id FROM attempts") == []  # not even a pending row
    # once the holder lets go, the same command goes through
    assert run_cli("instance", "stop", "mem-0", "-p", "memory", "--lock-timeout", "0.5").returncode == 0


def test_a_dry_run_takes_no_lock(tmp_path: Path, isolated_home: Path) -> None:
    configure(tmp_path, delay=0)
    with InstanceLocks(isolated_home).hold("memory", ["mem-0"], timeout=1):
        res = run_cli("instance", "stop", "mem-0", "-p", "memory", "--dry-run", "--lock-timeout", "0")
    assert res.returncode == 0, res.stderr


def test_lock_files_are_private(tmp_path: Path, isolated_home: Path) -> None:
    configure(tmp_path, delay=0)
    assert run_cli("instance", "stop", "mem-0", "-p", "memory").returncode == 0
    locks = isolated_home / "locks"
    assert locks.stat().st_mode & 0o777 == 0o700
    assert [p.stat().st_mode & 0o777 for p in locks.iterdir()] == [0o600]



"""`snoozebot history`: the audit log of start and stop attempts, through the real CLI.

The tests marked ``both_backends`` run on SQLite and on PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import SNOOZEBOT, run_cli
from state_rows import wait_for_pending_attempt

ENTRY_KEYS = {
    "id", "time", "finished", "actor", "source", "provider", "instance", "action", "dry_run", "result", "state", "error",
    "target", "scope", "host",
}


def memory(tmp_path: Path) -> list[str]:
    return ["-p", "memory", "-o", f"state_file={tmp_path / 'mem.json'}"]


@pytest.mark.both_backends
def test_empty_history(isolated_home: Path) -> None:
    result = run_cli("history")
    assert result.returncode == 0 and result.stdout == "" and "No start or stop attempts" in result.stderr
    as_json = run_cli("history", "--json")
    assert as_json.returncode == 0 and as_json.json() == []


@pytest.mark.both_backends
def test_history_records_attempts_newest_first(isolated_home: Path, tmp_path: Path) -> None:
    assert run_cli("instance", "stop", "mem-0", "mem-1", *memory(tmp_path)).returncode == 0
    assert run_cli("instance", "start", "mem-0", "--dry-run", *memory(tmp_path)).returncode == 0
    assert run_cli("instance", "start", "mem-9", *memory(tmp_path)).returncode == 1

    rows = run_cli("history", "--json").json()
    assert all(set(r) == ENTRY_KEYS for r in rows)
    assert [(r["instance"], r["action"], r["dry_run"], r["result"]) for r in rows] == [
        ("mem-9", "start", False, "error"),
        ("mem-0", "start", True, "ok"),
        ("mem-1", "stop", False, "ok"),
        ("mem-0", "stop", False, "ok"),
    ]
    assert rows[0]["error"]["code"] == "instance_not_found" and rows[0]["state"] is None
    assert rows[3]["state"] == "stopped" and rows[3]["provider"] == "memory" and rows[3]["source"] == "cli"
    assert all(r["actor"].startswith("cli:") and r["time"] <= r["finished"] for r in rows)

    assert [r["instance"] for r in run_cli("history", "--limit", "2", "--json").json()] == ["mem-9", "mem-0"]
    assert {r["instance"] for r in run_cli("history", "--instance", "mem-1", "--json").json()} == {"mem-1"}
    assert run_cli("history", "-p", "aws", "--json").json() == []

    table = run_cli("history", "-n", "3")
    assert table.returncode == 0
    assert "start (dry run)" in table.stdout and "mem-9" in table.stdout and "not found" in table.stdout


def test_history_is_in_sqlite_in_the_state_dir(isolated_home: Path, tmp_path: Path) -> None:
    run_cli("instance", "stop", "mem-2", *memory(tmp_path))
    with sqlite3.connect(isolated_home / "audit.sqlite3") as conn:
        assert conn.execute("SELECT instance, action, result FROM attempts").fetchall() == [("mem-2", "stop", "ok")]


@pytest.mark.both_backends
def test_a_killed_run_leaves_its_pending_attempt(isolated_home: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [SNOOZEBOT, "instance", "stop", "mem-0", *memory(tmp_path), "-o", "delay=30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_pending_attempt(isolated_home)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    rows = run_cli("history", "--json").json()
    assert [(r["instance"], r["result"], r["finished"]) for r in rows] == [("mem-0", "pending", None)]
    assert "pending" in run_cli("history").stdout


def test_bad_limit_is_usage_error(isolated_home: Path) -> None:
    result = run_cli("history", "--limit", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr

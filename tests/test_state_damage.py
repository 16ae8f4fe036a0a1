"""Damaged, read-only, full and locked state directories, through the real `snoozebot` command.

The state is made by real commands first (tokens, the loaded set, the audit log,
a schedule run), then damaged the way a crash or a full disk damages files:
truncated, garbage bytes, the wrong shape. Every expected failure must be one line
on stderr naming the file, exit 3 (exit 1 for a lock), leave the file's bytes as
they were, and act on nothing: the `memory` fixture provider keeps its instances
in a JSON file the test reads afterwards.

Read-only and full directories need `mount` (a read-only bind mount, a 64 KiB
tmpfs); where the test cannot mount, that case is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Result, run_cli
from test_agent_harness import running_agent

CONFIG = """
[providers.memory]
state_file = "{state_file}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
"""

MON_1905 = "2026-11-23T19:05:00+01:00"
"""Five minutes past a stop boundary: a run whose window holds 19:00 stops the fleet."""

PREVIOUS_RUN = "2026-11-23T18:30:00+01:00"
"""A previous run after the boundary's default window start but before the boundary."""


@pytest.fixture
def fleet(tmp_path: Path, isolated_home: Path) -> Path:
    """A home made by real commands: memory loaded, two tokens, one stop audited, one schedule run."""
    instances = tmp_path / "instances.json"
    (tmp_path / "config.toml").write_text(CONFIG.format(state_file=instances))
    for args in (
        ("plugins", "load", "memory"),
        ("agent", "token", "create", "--role", "admin", "--name", "admin"),
        ("agent", "token", "create", "--role", "viewer", "--name", "viewer"),
        ("instance", "stop", "mem-2", "-p", "memory"),
        ("schedule", "run", "-p", "memory", "--now", PREVIOUS_RUN),
    ):
        done = run_cli(*args)
        assert done.returncode == 0, (args, done.stderr)
    assert states(instances) == {"mem-0": "running", "mem-1": "running", "mem-2": "stopped"}
    return instances


def states(instances: Path) -> dict[str, str]:
    return {iid: rec["state"] for iid, rec in json.loads(instances.read_text()).items()}


def one_line(result: Result, code: int, path: Path) -> str:
    """The single error line of ``result``, checked: exit ``code``, names ``path``, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("snoozebot: error: "), result.stderr
    assert str(path) in lines[0]
    return lines[0]


def truncate(path: Path) -> bytes:
    """Cut ``path`` to half its length, as a crash in the middle of a plain write would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path.read_bytes()


# -- damaged files --------------------------------------------------------------------------


TOKEN_COMMANDS = [
    ("agent", "token", "list"),
    ("agent", "token", "list", "--json"),
    ("agent", "token", "create", "--role", "admin", "--name", "new"),
    ("agent", "token", "revoke", "viewer"),
]


@pytest.mark.parametrize("damage", ["truncated", "empty", "wrong shape", "a bad entry"])
def test_damaged_tokens_are_never_no_tokens_and_never_overwritten(fleet: Path, isolated_home: Path, damage: str) -> None:
    path = isolated_home / "agent_tokens.json"
    if damage == "truncated":
        before = truncate(path)
    else:
        good = json.loads(path.read_text())
        good["tokens"][0]["role"] = "emperor"
        text = {"empty": "", "wrong shape": "[]", "a bad entry": json.dumps(good)}[damage]
        path.write_text(text)
        before = path.read_bytes()
    for args in TOKEN_COMMANDS:
        result = run_cli(*args)
        one_line(result, 3, path)
        assert result.stdout == "" and "No tokens" not in result.stderr
    assert path.read_bytes() == before


def test_damaged_loaded_set_is_not_an_empty_one(fleet: Path, isolated_home: Path) -> None:
    path = isolated_home / "loaded.json"
    before = truncate(path)
    for args in (("instance", "list"), ("plugins", "list"), ("plugins", "load", "memory"), ("plugins", "unload", "memory")):
        one_line(run_cli(*args), 3, path)
    assert path.read_bytes() == before
    listed = run_cli("instance", "list", "-p", "memory", "--json")  # does not need the loaded set
    assert listed.returncode == 0 and len(listed.json()) == 3


@pytest.mark.parametrize("damage", ["truncated", "not a time"])
def test_damaged_schedule_record_does_not_move_the_window(fleet: Path, isolated_home: Path, damage: str) -> None:
    path = isolated_home / "schedule-runs.json"
    assert json.loads(path.read_text())["providers"]["memory"]
    if damage == "truncated":
        before = truncate(path)
    else:
        path.write_text('{"providers": {"memory": "yesterday"}}')
        before = path.read_bytes()
    # A reset record means the default window (an hour back), which holds 19:00: the fleet would stop.
    for args in (("schedule", "run", "--now", MON_1905, "--dry-run"), ("schedule", "run", "--now", MON_1905)):
        one_line(run_cli(*args), 3, path)
    assert states(fleet) == {"mem-0": "running", "mem-1": "running", "mem-2": "stopped"}
    assert path.read_bytes() == before


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_audit_log_stops_before_any_call(fleet: Path, isolated_home: Path, damage: str) -> None:
    path = isolated_home / "audit.sqlite3"
    if damage == "garbage":
        path.write_bytes(os.urandom(8192))
    else:
        with sqlite3.connect(path) as db:  # enough rows that half the file loses some of them
            db.executemany(
                "INSERT INTO attempts (time, actor, source, provider, instance, action, dry_run, result)"
                " VALUES ('t', 'a', 's', 'p', ?, 'stop', 0, 'ok')",
                [(f"i-{n}" + "x" * 200,) for n in range(500)],
            )
        db.close()
        truncate(path)
    before = path.read_bytes()
    for args in (("instance", "stop", "mem-0", "mem-1", "-p", "memory"), ("schedule", "run", "--now", MON_1905)):
        one_line(run_cli(*args), 3, path)
    assert states(fleet) == {"mem-0": "running", "mem-1": "running", "mem-2": "stopped"}
    one_line(run_cli("history"), 3, path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", ["agent_tokens.json", "loaded.json", "audit.sqlite3"])
def test_agent_refuses_to_start_on_damaged_state(fleet: Path, isolated_home: Path, name: str) -> None:
    path = isolated_home / name
    path.write_bytes(b"\x00garbage" * 100 if name.endswith("sqlite3") else path.read_bytes()[:10])
    before = path.read_bytes()
    result = run_cli("agent", "serve", "--port", "0", timeout=60)
    assert "listening" not in result.stderr
    one_line(result, 3, path)
    assert path.read_bytes() == before


def test_running_agent_refuses_everyone_with_a_log_line_while_tokens_are_damaged(
    fleet: Path, isolated_home: Path, tmp_path: Path
) -> None:
    path = isolated_home / "agent_tokens.json"
    with running_agent(isolated_home, tmp_path / "config.toml") as agent:
        agent.tokens = {"viewer": run_cli("agent", "token", "create", "--role", "viewer", "--name", "v2").stdout.strip()}
        good = path.read_bytes()
        with agent.client("viewer") as client:
            assert client.get("/api/plugins").status_code == 200
            path.write_bytes(good[: len(good) // 2])
            refused = client.get("/api/plugins")
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "state_damaged"
            assert str(path) in refused.json()["error"]["message"]
            deadline = time.monotonic() + 10
            while str(path) not in agent.stderr and time.monotonic() < deadline:
                time.sleep(0.05)
            assert str(path) in agent.stderr and "Traceback" not in agent.stderr
            path.write_bytes(good)
            assert client.get("/api/plugins").status_code == 200
    assert path.read_bytes() == good


# -- read-only and full directories ------------------------------------------------------------


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30, check=False)


def _unmount(target: Path) -> None:
    for flags in ([], ["-l"]):  # lazily when something still holds it
        if subprocess.run(["umount", *flags, str(target)], capture_output=True, timeout=30, check=False).returncode == 0:
            return


def _require_mount() -> None:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) on Linux to mount a read-only or full state directory")


@contextmanager
def read_only_copy(source: Path, target: Path) -> Iterator[Path]:
    """``source`` seen through a read-only bind mount at ``target`` (root ignores mode bits)."""
    _require_mount()
    target.mkdir()
    bound = _mount("--bind", str(source), str(target))
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount a state directory here: {bound.stderr.strip()}")
    try:
        ro = _mount("-o", "remount,bind,ro", str(target))
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {ro.stderr.strip()}")
        yield target
    finally:
        _unmount(target)


@contextmanager
def full_copy(source: Path, target: Path) -> Iterator[Path]:
    """A copy of ``source`` on a 1 MiB tmpfs at ``target``, filled to the last byte."""
    _require_mount()
    target.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(target))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        shutil.copytree(source, target, dirs_exist_ok=True)
        with open(target / "filler", "wb", buffering=0) as fh, pytest.raises(OSError, match="No space left"):
            while True:
                fh.write(b"\0" * 4096)
        yield target
    finally:
        _unmount(target)


def _reading_commands_work(home: Path) -> None:
    env = {"SNOOZEBOT_HOME": str(home)}
    history = run_cli("history", "--json", env=env)
    assert history.returncode == 0, history.stderr
    assert [(r["instance"], r["result"]) for r in history.json()] == [("mem-2", "ok")]
    listed = run_cli("instance", "list", "--json", env=env)  # every loaded provider
    assert listed.returncode == 0 and len(listed.json()) == 3, listed.stderr
    info = run_cli("instance", "info", "mem-2", "-p", "memory", "--json", env=env)
    assert info.returncode == 0 and info.json()["state"] == "stopped", info.stderr
    plugins = run_cli("plugins", "list", "--json", env=env)
    assert plugins.returncode == 0 and {p["name"]: p["loaded"] for p in plugins.json()}["memory"] is True
    tokens = run_cli("agent", "token", "list", "--json", env=env)
    assert tokens.returncode == 0 and {t["name"] for t in tokens.json()} == {"admin", "viewer"}
    savings = run_cli("savings", "--json", env=env)
    assert savings.returncode == 0 and [r["key"] for r in savings.json()["rows"]] == ["mem-2"], savings.stderr


def _writing_commands_act_on_nothing(home: Path, fleet: Path) -> None:
    env = {"SNOOZEBOT_HOME": str(home)}
    snapshot = {p.name: p.read_bytes() for p in home.iterdir() if p.is_file() and p.name != "filler"}
    for args in (
        ("instance", "stop", "mem-0", "-p", "memory"),
        ("instance", "start", "mem-2", "-p", "memory"),
        ("schedule", "run", "--now", MON_1905),
        ("agent", "token", "create", "--role", "admin", "--name", "new"),
        ("plugins", "unload", "memory"),
        ("agent", "serve", "--port", "0"),  # it audits every action: it must not start
    ):
        result = run_cli(*args, env=env, timeout=60)
        line = one_line(result, 3, home)
        assert "cannot write" in line, line
    assert states(fleet) == {"mem-0": "running", "mem-1": "running", "mem-2": "stopped"}
    for name, data in snapshot.items():
        assert (home / name).read_bytes() == data, name


def test_read_only_state_directory(fleet: Path, isolated_home: Path, tmp_path: Path) -> None:
    with read_only_copy(isolated_home, tmp_path / "ro") as home:
        _reading_commands_work(home)
        _writing_commands_act_on_nothing(home, fleet)


def test_overrides_and_an_old_activity_file_are_read_in_a_read_only_directory(
    fleet: Path, isolated_home: Path, tmp_path: Path
) -> None:
    assert run_cli("instance", "snooze", "mem-0", "-p", "memory", "--until", "3d").returncode == 0
    report = {"provider": "memory", "id": "mem-1", "at": "2026-11-23T18:00:00+00:00", "idle": False,
              "idle_since": None, "readings": {}}
    old = json.dumps({"reports": {"memory": {"mem-1": report}}})  # left by an older snoozebot
    (isolated_home / "activity.json").write_text(old)
    with read_only_copy(isolated_home, tmp_path / "ro") as home:
        env = {"SNOOZEBOT_HOME": str(home)}
        snoozed = run_cli("schedule", "explain", "mem-0", "-p", "memory", "--now", MON_1905, "--json", env=env)
        assert snoozed.returncode == 0, snoozed.stderr
        assert [o["kind"] for o in snoozed.json()["overrides"]] == ["snooze"]
        busy = run_cli("schedule", "explain", "mem-1", "-p", "memory", "--now", MON_1905, "--json", env=env)
        assert busy.returncode == 0, busy.stderr
        assert busy.json()["activity"]["at"] == "2026-11-23T18:00:00+00:00"
        assert (home / "activity.json").read_text() == old  # imported once the directory is writable
    assert run_cli("schedule", "explain", "mem-1", "-p", "memory", "--json").json()["activity"]["idle"] is False
    assert not (isolated_home / "activity.json").exists()


def test_full_state_directory(fleet: Path, isolated_home: Path, tmp_path: Path) -> None:
    with full_copy(isolated_home, tmp_path / "full") as home:
        _reading_commands_work(home)
        _writing_commands_act_on_nothing(home, fleet)


# -- a database held by another process -----------------------------------------------------


def test_audit_log_held_by_another_process_is_a_lock_not_damage(fleet: Path, isolated_home: Path) -> None:
    path = isolated_home / "audit.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        history = run_cli("history", "--json")  # readers go on beside a WAL writer
        assert history.returncode == 0 and len(history.json()) == 1
        stopped = run_cli("instance", "stop", "mem-0", "-p", "memory", "--lock-timeout", "2")
        line = one_line(stopped, 1, path)
        assert "another process holds the audit log" in line and "no stop was attempted" in line
        assert 2 <= stopped.seconds < 15  # --lock-timeout, then one line
        assert states(fleet)["mem-0"] == "running"
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert run_cli("instance", "stop", "mem-0", "-p", "memory").returncode == 0
    assert states(fleet)["mem-0"] == "stopped"


# -- permissions ------------------------------------------------------------------------------


def test_state_directory_is_0700_and_its_files_0600(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    instances = tmp_path / "instances.json"
    (tmp_path / "config.toml").write_text(CONFIG.format(state_file=instances))
    env = {"SNOOZEBOT_HOME": str(home)}
    for args in (
        ("plugins", "load", "memory"),
        ("agent", "token", "create", "--role", "admin", "--name", "admin"),
        ("instance", "stop", "mem-0", "-p", "memory"),
        ("schedule", "run", "--now", MON_1905),
        ("plugins", "list"),
    ):
        assert run_cli(*args, env=env).returncode == 0, args
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    with sqlite3.connect(home / "audit.sqlite3") as db:  # an open reader keeps -wal and -shm in place
        db.execute("SELECT count(*) FROM attempts").fetchone()
        found = {p.relative_to(home).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in home.rglob("*")}
    db.close()
    names = set(found)
    assert {"agent_tokens.json", "loaded.json", "schedule-runs.json", "locks"} <= names
    assert {"audit.sqlite3", "audit.sqlite3-wal", "audit.sqlite3-shm"} <= names
    assert any(name.startswith("locks/") for name in names)  # the instance locks
    assert found == {name: 0o700 if (home / name).is_dir() else 0o600 for name in found}


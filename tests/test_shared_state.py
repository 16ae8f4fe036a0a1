"""Shared state on a real PostgreSQL server (tests/pg.py), through the real `snoozebot` command.

Two state directories stand for two machines: each ``SNOOZEBOT_HOME`` is its own,
the database (``$SNOOZEBOT_DATABASE_URL``) and the memory provider's state file
(the "cloud") are shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from conftest import SNOOZEBOT, free_port, run_cli
from pg import PASSWORD, pg_cluster

OLD_ATTEMPTS = """CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, finished TEXT, actor TEXT NOT NULL,
    source TEXT NOT NULL, provider TEXT NOT NULL, instance TEXT NOT NULL, action TEXT NOT NULL,
    dry_run INTEGER NOT NULL, result TEXT NOT NULL, state TEXT, error_code TEXT, error_message TEXT
)"""
OLD_ROW = (
    "INSERT INTO attempts (time, finished, actor, source, provider, instance, action, dry_run, result)"
    " VALUES ('2026-11-01T10:00:00.000+00:00', '2026-11-01T10:00:01.000+00:00', 'cli:old', 'cli',"
    " 'memory', 'mem-0', 'stop', 0, 'ok')"
)


def memory(tmp_path: Path) -> list[str]:
    return ["-p", "memory", "-o", f"state_file={tmp_path / 'cloud.json'}"]


def machine(tmp_path: Path, name: str) -> dict[str, str]:
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    return {"SNOOZEBOT_HOME": str(home)}


def cloud_state(tmp_path: Path, instance: str) -> str:
    return str(json.loads((tmp_path / "cloud.json").read_text())[instance]["state"])


def assert_one_line_naming(result, where: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert where in lines[0] and PASSWORD not in result.stderr and "Traceback" not in result.stderr


def test_db_status_and_upgrade(pg_url: str, pg_server) -> None:  # type: ignore[no-untyped-def]
    before = run_cli("db", "status", "--json")
    assert before.returncode == 0, before
    doc = before.json()
    assert doc["backend"] == "postgresql" and doc["version"] == 0 and doc["up_to_date"] is False
    assert doc["database"]["host"] == "127.0.0.1" and doc["database"]["port"] == pg_server.port
    assert doc["database"]["user"] == "snoozebot" and doc["path"] is None
    assert PASSWORD not in before.stdout and "***" in doc["url"]
    upgraded = run_cli("db", "upgrade")
    assert upgraded.returncode == 0 and f"127.0.0.1:{pg_server.port}" in upgraded.stderr
    assert PASSWORD not in upgraded.stderr + upgraded.stdout
    after = run_cli("db", "status", "--json").json()
    assert after["version"] == after["latest"] and after["up_to_date"] is True
    table = run_cli("db", "status")
    assert "postgresql" in table.stdout and PASSWORD not in table.stdout


def test_sqlite_status_without_a_database(isolated_home: Path) -> None:
    doc = run_cli("db", "status", "--json").json()
    assert doc["backend"] == "sqlite" and doc["path"] == str(isolated_home / "audit.sqlite3")
    assert doc["database"] is None and doc["url"] is None
    assert run_cli("db", "upgrade").returncode == 0
    assert run_cli("db", "status", "--json").json()["up_to_date"] is True


def test_history_is_shared_between_machines(pg_url: str, tmp_path: Path) -> None:
    a, b = machine(tmp_path, "a"), machine(tmp_path, "b")
    assert run_cli("instance", "stop", "mem-0", *memory(tmp_path), env=a).returncode == 0
    assert run_cli("instance", "start", "mem-0", *memory(tmp_path), env=b).returncode == 0
    for env in (a, b):
        rows = run_cli("history", "--json", env=env).json()
        assert [(r["action"], r["result"]) for r in rows] == [("start", "ok"), ("stop", "ok")]
        assert {r["host"] for r in rows} == {socket.gethostname()}
    table = run_cli("history", env=a)
    assert "HOST" in table.stdout and socket.gethostname() in table.stdout
    assert not (tmp_path / "a" / "audit.sqlite3").exists()  # nothing went to the local file


def test_the_savings_journal_is_shared_between_machines(pg_url: str, tmp_path: Path) -> None:
    a, b = machine(tmp_path, "a"), machine(tmp_path, "b")
    assert run_cli("instance", "stop", "mem-0", *memory(tmp_path), env=a).returncode == 0
    assert run_cli("instance", "start", "mem-0", *memory(tmp_path), env=b).returncode == 0  # ends a's snooze
    reports = [run_cli("savings", "--json", env=env) for env in (a, b)]
    assert all(r.returncode == 0 for r in reports), reports
    first, second = (r.json() for r in reports)
    assert [(r["key"], r["instances"]) for r in first["rows"]] == [("mem-0", 1)]
    assert 0 < first["total"]["hours"] < 60 / 3600
    assert second["total"] == first["total"] and second["rows"] == first["rows"]  # closed: no longer counting
    assert not any((tmp_path / name / "audit.sqlite3").exists() for name in "ab")


def test_database_down_is_exit_3_and_nothing_is_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("instance", "list", *memory(tmp_path)).returncode == 0  # the cloud exists
    with pg_cluster() as server:
        url = server.new_database()
        monkeypatch.setenv("SNOOZEBOT_DATABASE_URL", url)
        assert run_cli("instance", "stop", "mem-1", *memory(tmp_path)).returncode == 0
        server.stop()  # the database goes away
        result = run_cli("instance", "stop", "mem-0", *memory(tmp_path))
        assert_one_line_naming(result, f"127.0.0.1:{server.port}")
        assert cloud_state(tmp_path, "mem-0") == "running"
        assert_one_line_naming(run_cli("history"), f"127.0.0.1:{server.port}")
        snooze = run_cli("instance", "snooze", "mem-0", "-p", "memory", "--until", "2h")
        assert_one_line_naming(snooze, f"127.0.0.1:{server.port}")
        assert "the snooze was not stored" in snooze.stderr


def test_unreachable_wrong_password_and_missing_database_are_exit_3(
    pg_server, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    assert run_cli("instance", "list", *memory(tmp_path)).returncode == 0  # the cloud exists
    port = free_port()
    for url, where in (
        (pg_server.url("postgres", port=port), f"127.0.0.1:{port}"),
        (pg_server.url("postgres", password="not-" + PASSWORD), f"127.0.0.1:{pg_server.port}"),
        (pg_server.url("no_such_db"), f"127.0.0.1:{pg_server.port}"),
    ):
        result = run_cli("instance", "stop", "mem-0", *memory(tmp_path), env={"SNOOZEBOT_DATABASE_URL": url})
        assert_one_line_naming(result, where)
        assert cloud_state(tmp_path, "mem-0") == "running"


def test_database_url_in_the_config_file(pg_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = pg_server.new_database()
    config = tmp_path / "shared.toml"
    config.write_text(f'[state]\ndatabase = "{url}"\n')
    assert run_cli("instance", "stop", "mem-0", *memory(tmp_path), "--config", str(config)).returncode == 0
    rows = run_cli("history", "--json", env={"SNOOZEBOT_CONFIG": str(config)}).json()
    assert [r["instance"] for r in rows] == ["mem-0"]
    assert run_cli("history", "--json").json() == []  # the default config: SQLite, empty


def test_a_bad_url_is_usage(tmp_path: Path) -> None:
    result = run_cli("history", env={"SNOOZEBOT_DATABASE_URL": "mysql://u:p@h/db"})
    assert result.returncode == 2 and "SNOOZEBOT_DATABASE_URL" in result.stderr and "p@h" not in result.stderr


def test_migration_from_an_old_postgres_schema(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(OLD_ATTEMPTS.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"))
        conn.execute(OLD_ROW)
    assert run_cli("db", "status", "--json").json()["version"] == 0
    rows = run_cli("history", "--json").json()
    assert [(r["actor"], r["host"]) for r in rows] == [("cli:old", None)]
    assert run_cli("db", "status", "--json").json()["up_to_date"] is True


def test_migration_from_an_old_sqlite_log(isolated_home: Path, tmp_path: Path) -> None:
    with sqlite3.connect(isolated_home / "audit.sqlite3") as conn:
        conn.execute(OLD_ATTEMPTS)
        conn.execute(OLD_ROW)
    assert run_cli("instance", "stop", "mem-1", *memory(tmp_path)).returncode == 0
    rows = run_cli("history", "--json").json()
    assert [(r["instance"], r["host"]) for r in rows] == [("mem-1", socket.gethostname()), ("mem-0", None)]
    assert run_cli("db", "status", "--json").json()["up_to_date"] is True


def test_a_newer_schema_is_refused(pg_url: str, tmp_path: Path) -> None:
    assert run_cli("db", "upgrade").returncode == 0
    assert run_cli("instance", "list", *memory(tmp_path)).returncode == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    result = run_cli("instance", "stop", "mem-0", *memory(tmp_path))
    assert_one_line_naming(result, "127.0.0.1")
    assert "99" in result.stderr and cloud_state(tmp_path, "mem-0") == "running"


def test_many_processes_migrate_a_fresh_database_at_once(pg_url: str, tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([SNOOZEBOT, "history", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    outcomes = [(p.wait(timeout=60), *p.communicate(timeout=5)) for p in procs]
    assert all(code == 0 and json.loads(out) == [] for code, out, _ in outcomes), outcomes
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)


def test_tokens_are_shared_between_machines(pg_url: str, tmp_path: Path) -> None:
    a, b = machine(tmp_path, "a"), machine(tmp_path, "b")
    created = run_cli("agent", "token", "create", "--role", "viewer", "--name", "ops", env=a)
    assert created.returncode == 0 and created.stdout.startswith("sbt_")
    listed = run_cli("agent", "token", "list", "--json", env=b)
    assert [t["name"] for t in listed.json()] == ["ops"]
    again = run_cli("agent", "token", "create", "--role", "admin", "--name", "ops", env=b)
    assert again.returncode == 2 and "exists" in again.stderr
    assert run_cli("agent", "token", "revoke", "ops", env=b).returncode == 0
    assert run_cli("agent", "token", "list", "--json", env=a).json() == []
    assert not (tmp_path / "a" / "agent_tokens.json").exists()


SCHEDULED = """
[providers.memory]
state_file = "{cloud}"
call_log = "{calls}"
delay = "{delay}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
"""
MON_1905 = "2026-11-23T19:05:00+01:00"


def scheduled(tmp_path: Path, *, delay: float) -> dict[str, str]:
    config = tmp_path / "scheduled.toml"
    config.write_text(SCHEDULED.format(cloud=tmp_path / "cloud.json", calls=tmp_path / "calls.jsonl", delay=delay))
    return {"SNOOZEBOT_CONFIG": str(config)}


def calls(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "calls.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(json.loads(line)["action"], json.loads(line)["id"]) for line in lines]


def spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SNOOZEBOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
    )


def wait_for_pending(url: str) -> None:
    """Until the shared audit log holds a pending attempt (a call is in flight, its locks held)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn, contextlib.suppress(psycopg.errors.UndefinedTable):
            if conn.execute("SELECT count(*) FROM attempts WHERE result = 'pending'").fetchone() != (0,):
                return
        time.sleep(0.05)
    raise AssertionError("no pending attempt appeared")


def test_racing_schedule_runs_on_two_machines_act_once(pg_url: str, tmp_path: Path) -> None:
    config = scheduled(tmp_path, delay=1.0)
    assert run_cli("instance", "list", "-p", "memory", env=config).returncode == 0  # seeds mem-0..2
    run = ("schedule", "run", "-p", "memory", "--now", MON_1905, "--json", "--lock-timeout", "60")
    racers = [spawn(*run, env={**config, **machine(tmp_path, name)}) for name in ("a", "b")]
    outcomes = [(p.wait(timeout=120), *p.communicate(timeout=5)) for p in racers]
    assert all(code == 0 for code, _, _ in outcomes), outcomes
    acted = [[r["action"] for r in json.loads(out)] for _, out, _ in outcomes]
    assert sorted(acted) == [["none"] * 3, ["stop"] * 3], acted  # one acted, the other found nothing left
    assert sorted(calls(tmp_path)) == [("stopped", "mem-0"), ("stopped", "mem-1"), ("stopped", "mem-2")]
    stops = run_cli("history", "--json", env=config).json()
    assert sorted(r["instance"] for r in stops if r["action"] == "stop") == ["mem-0", "mem-1", "mem-2"]
    again = run_cli(*run, env={**config, **machine(tmp_path, "c")})
    assert again.returncode == 0 and {r["action"] for r in again.json()} == {"none"}


def test_a_snooze_set_on_one_machine_holds_the_schedule_run_of_another(pg_url: str, tmp_path: Path) -> None:
    config = scheduled(tmp_path, delay=0)
    assert run_cli("instance", "list", "-p", "memory", env=config).returncode == 0  # seeds mem-0..2
    snoozed = run_cli("instance", "snooze", "mem-1", "-p", "memory", "--until", "3d", env=machine(tmp_path, "a"))
    assert snoozed.returncode == 0, snoozed.stderr
    run = run_cli("schedule", "run", "-p", "memory", "--now", MON_1905, "--json", env={**config, **machine(tmp_path, "b")})
    assert run.returncode == 0, run.stderr
    assert [(r["id"], r["action"]) for r in run.json()] == [("mem-0", "stop"), ("mem-1", "skip"), ("mem-2", "stop")]
    assert sorted(calls(tmp_path)) == [("stopped", "mem-0"), ("stopped", "mem-2")]
    shown = run_cli("schedule", "show", "office-hours", "--json", env={**config, **machine(tmp_path, "c")})
    assert [o["instance"] for o in shown.json()["overrides"]] == ["mem-1"]
    for home in (tmp_path / "a", tmp_path / "b"):
        assert not (home / "overrides.sqlite3").exists() and not (home / "audit.sqlite3").exists()


def test_a_schedule_run_waits_for_another_machine_at_most_lock_timeout(pg_url: str, tmp_path: Path) -> None:
    config = scheduled(tmp_path, delay=4.0)
    assert run_cli("instance", "list", "-p", "memory", env=config).returncode == 0
    run = ("schedule", "run", "-p", "memory", "--now", MON_1905, "--json")
    first = spawn(*run, env={**config, **machine(tmp_path, "a")})
    try:
        wait_for_pending(pg_url)
        second = run_cli(*run, "--lock-timeout", "0.5", env={**config, **machine(tmp_path, "b")})
        assert second.returncode == 1 and "schedule runs" in second.stderr and "--lock-timeout" in second.stderr
    finally:
        assert first.wait(timeout=60) == 0


def test_an_instance_is_locked_across_machines(pg_url: str, tmp_path: Path) -> None:
    config = scheduled(tmp_path, delay=4.0)
    assert run_cli("instance", "list", "-p", "memory", env=config).returncode == 0
    holder = spawn("instance", "stop", "mem-0", "-p", "memory", env={**config, **machine(tmp_path, "a")})
    try:
        wait_for_pending(pg_url)
        other = run_cli(
            "instance", "start", "mem-0", "-p", "memory", "--lock-timeout", "0.5",
            env={**config, **machine(tmp_path, "b")},
        )
        assert other.returncode == 1 and "another machine" in other.stderr and "mem-0" in other.stderr
        free = run_cli("instance", "stop", "mem-1", "-p", "memory", env={**config, **machine(tmp_path, "b")})
        assert free.returncode == 0  # another instance is not held up
    finally:
        assert holder.wait(timeout=60) == 0


def test_db_status_has_the_documented_fields(pg_url: str) -> None:
    from conftest import doc_table

    [row] = [r for r in doc_table("json.md", "Documents") if "`db status`" in r[0]]
    documented = {field.strip().strip("`") for field in row[2].split(",")}
    assert set(run_cli("db", "status", "--json").json()) == documented
    assert set(run_cli("db", "status", "--json", env={"SNOOZEBOT_DATABASE_URL": ""}).json()) == documented


def test_the_database_going_away_during_a_schedule_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = scheduled(tmp_path, delay=3.0)  # each call, the listing too, takes 3 s
    assert run_cli("instance", "list", "-p", "memory", env={"SNOOZEBOT_CONFIG": config["SNOOZEBOT_CONFIG"]}).returncode == 0
    run = ("schedule", "run", "-p", "memory", "--now", MON_1905, "--json")
    with pg_cluster() as server:
        monkeypatch.setenv("SNOOZEBOT_DATABASE_URL", server.new_database())
        assert run_cli("db", "upgrade").returncode == 0
        first = spawn(*run, env=config)
        time.sleep(1.0)  # the run is listing the instances
        server.stop()
        code, out, err = first.wait(timeout=60), *first.communicate(timeout=5)
        assert code == 3 and f"127.0.0.1:{server.port}" in err and PASSWORD not in err, (code, out, err)
        assert "Traceback" not in err
        assert calls(tmp_path) == []  # it stopped before acting: no action without its audit row
        server.start()
        again = run_cli(*run, env=config, timeout=120)
        assert again.returncode == 0 and [r["action"] for r in again.json()] == ["stop"] * 3, again
        assert sorted(calls(tmp_path)) == [("stopped", "mem-0"), ("stopped", "mem-1"), ("stopped", "mem-2")]


def test_the_agent_refuses_to_start_without_its_database(pg_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    url = pg_server.url("postgres", port=port)
    result = run_cli("agent", "serve", "--port", "0", env={"SNOOZEBOT_DATABASE_URL": url}, timeout=60)
    assert_one_line_naming(result, f"127.0.0.1:{port}")
    assert "listening" not in result.stderr


def test_a_database_url_without_the_driver_is_exit_2_naming_the_extra(pg_url: str, tmp_path: Path) -> None:
    shadow = tmp_path / "no-driver"
    shadow.mkdir()
    (shadow / "psycopg.py").write_text("raise ImportError('psycopg is not installed')\n")  # as if it were absent
    result = run_cli("history", env={"PYTHONPATH": str(shadow)})
    assert result.returncode == 2 and "snoozebot[postgres]" in result.stderr, result
    assert len(result.stderr.strip().splitlines()) == 1 and PASSWORD not in result.stderr


@pytest.mark.both_backends
def test_the_marker_alone_runs_a_test_on_each_backend(request: pytest.FixtureRequest, isolated_home: Path) -> None:
    """The both_backends marker (tests/conftest.py) really switches what a command uses."""
    expected = request.node.callspec.params["state_backend"]
    doc = run_cli("db", "status", "--json").json()
    assert doc["backend"] == expected
    assert (doc["path"] is None) == (expected == "postgresql")

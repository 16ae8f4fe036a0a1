"""`snoozebot-order` tiers end to end: the real CLI over the `memory` fixture provider.

The order is observed in the audit log (attempt ids grow with time) and in the
provider's call log (wall-clock start and end of each call). Records with
`boot_seconds` start as `pending` and run only later, so a start tier is seen
to be waited for before the next one.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_workers, run_cli

CONFIG = """
[providers.memory]
state_file = "{state_file}"
call_log = "{call_log}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
"""

MON_1905 = "2026-11-23T19:05:00+01:00"
TUE_0805 = "2026-11-24T08:05:00+01:00"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    state_file = tmp_path / "instances.json"
    (tmp_path / "config.toml").write_text(CONFIG.format(state_file=state_file, call_log=tmp_path / "calls.jsonl"))
    return state_file


def seed(state_file: Path, instances: dict[str, dict[str, Any]]) -> None:
    state_file.write_text(json.dumps(instances))


def machine(state: str, order: str | None = None, **extra: Any) -> dict[str, Any]:
    tags = {"snoozebot-schedule": "office-hours"}
    if order is not None:
        tags["snoozebot-order"] = order
    return {"state": state, "name": "m", "tags": tags, **extra}


def states(state_file: Path) -> dict[str, str]:
    return {iid: rec["state"] for iid, rec in json.loads(state_file.read_text()).items()}


def audited(home: Path) -> list[tuple[str, str, str]]:
    """(instance, action, result) of every attempt, in the order they were made."""
    with sqlite3.connect(home / "audit.sqlite3") as conn:
        return conn.execute("SELECT instance, action, result FROM attempts ORDER BY id").fetchall()


def calls(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in map(json.loads, (tmp_path / "calls.jsonl").read_text().splitlines())}


def schedule_run(*args: str) -> Any:
    return run_cli("schedule", "run", "-p", "memory", *args)


def test_stops_go_highest_order_first(fleet: Path, isolated_home: Path) -> None:
    seed(fleet, {"db": machine("running", "0"), "app": machine("running", "1"), "web": machine("running", "2"),
                 "plain": machine("running")})
    res = schedule_run("--now", MON_1905, "--json")
    assert res.returncode == 0, res.stderr
    assert {r["id"]: (r["action"], r["ok"]) for r in res.json()} == {
        "db": ("stop", True), "app": ("stop", True), "web": ("stop", True), "plain": ("stop", True)
    }
    # One batch per tier, in descending order; an untagged instance is tier 0, with the database.
    assert [(i, a) for i, a, _ in audited(isolated_home)] == [
        ("web", "stop"), ("app", "stop"), ("db", "stop"), ("plain", "stop")
    ]
    assert set(states(fleet).values()) == {"stopped"}


def test_starts_go_lowest_order_first_and_each_tier_is_waited_for(
    fleet: Path, isolated_home: Path, tmp_path: Path
) -> None:
    seed(fleet, {"app": machine("stopped", "1"), "db": machine("stopped", "-1", boot_seconds=1.5),
                 "web": machine("stopped", "5")})
    res = schedule_run("--now", TUE_0805, "--json", "--timeout", "20")
    assert res.returncode == 0, res.stderr
    assert all(r["action"] == "start" and r["ok"] for r in res.json())
    assert [i for i, _, _ in audited(isolated_home)] == ["db", "app", "web"]
    log = calls(tmp_path)
    # The app tier was asked only once the database ran, 1.5 s after its start call.
    assert log["app"]["start"] - log["db"]["end"] >= 1.4
    assert log["web"]["start"] >= log["app"]["end"]
    assert set(states(fleet).values()) == {"running"}
    assert leftover_workers(isolated_home) == []


def test_a_tier_that_does_not_run_in_time_holds_back_the_tiers_behind_it(
    fleet: Path, isolated_home: Path, tmp_path: Path
) -> None:
    seed(fleet, {"db": machine("stopped", "0", boot_seconds=3600), "db2": machine("stopped", "0"),
                 "app": machine("stopped", "1"), "web": machine("stopped", "2")})
    res = schedule_run("--now", TUE_0805, "--json", "--timeout", "1.5")
    assert res.returncode == 1
    by_id = {r["id"]: r for r in res.json()}
    assert by_id["db"]["ok"] is False and by_id["db"]["error"]["code"] == "wait_timeout"
    assert "still PENDING after 1.5s" in by_id["db"]["error"]["message"]
    assert by_id["db2"]["ok"] is True
    for held in ("app", "web"):
        assert (by_id[held]["action"], by_id[held]["ok"], by_id[held]["error"]["code"]) == ("start", False, "held_back")
        assert by_id[held]["error"]["message"].startswith("not started: order tier 0 failed (db: ")
    # Nothing was asked of the provider for the held-back tiers.
    assert [i for i, _, _ in audited(isolated_home)] == ["db", "db2"]
    assert states(fleet) == {"db": "pending", "db2": "running", "app": "stopped", "web": "stopped"}
    res = schedule_run("--now", TUE_0805)
    assert "held_back" not in res.stdout  # the text table says why in words
    assert leftover_workers(isolated_home) == []


def test_a_non_integer_order_fails_that_instance_alone(fleet: Path, isolated_home: Path) -> None:
    seed(fleet, {"bad": machine("running", "first"), "good": machine("running", "1"), "ok": machine("running")})
    res = schedule_run("--now", MON_1905, "--json")
    assert res.returncode == 1
    by_id = {r["id"]: r for r in res.json()}
    assert by_id["bad"]["ok"] is False and by_id["bad"]["action"] == "none"
    assert by_id["bad"]["error"] == {
        "code": "bad_order",
        "message": "bad snoozebot-order value 'first' (expected an integer, e.g. 0, 1, -1)",
    }
    assert by_id["good"]["ok"] and by_id["ok"]["ok"]
    assert states(fleet) == {"bad": "running", "good": "stopped", "ok": "stopped"}
    res = run_cli("schedule", "explain", "bad", "-p", "memory", "--now", MON_1905, "--json")
    assert res.returncode == 0 and res.json()["error"]["code"] == "bad_order" and res.json()["order"] == "first"


def test_a_dry_run_reports_every_tier_and_touches_nothing(fleet: Path, isolated_home: Path) -> None:
    seed(fleet, {"a": machine("stopped", "0", boot_seconds=3600), "b": machine("stopped", "1")})
    res = schedule_run("--now", TUE_0805, "--json", "--dry-run", "--timeout", "1")
    assert res.returncode == 0, res.stderr
    assert [(r["id"], r["action"], r["ok"]) for r in res.json()] == [("a", "start", True), ("b", "start", True)]
    assert states(fleet) == {"a": "stopped", "b": "stopped"}

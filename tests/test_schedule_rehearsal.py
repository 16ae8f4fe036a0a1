"""A rehearsal with a future --now says what it did to the schedule's memory, and can be undone.

On both backends: the previous-run records in the state directory, and in a PostgreSQL database.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import run_cli

CONFIG = """
[providers.memory]
state_file = "{state_file}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "daily", start = "08:00", stop = "19:00" }}]
"""
pytestmark = pytest.mark.both_backends
FUTURE = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(microsecond=0).isoformat()


@pytest.fixture(autouse=True)
def fleet(tmp_path: Path) -> None:
    state_file = tmp_path / "instances.json"
    (tmp_path / "config.toml").write_text(CONFIG.format(state_file=state_file))
    seed = {"mem-0": {"state": "running", "name": "m", "tags": {"snoozebot-schedule": "office-hours"}}}
    state_file.write_text(json.dumps(seed))


def test_a_real_run_with_a_future_now_warns_and_says_how_to_undo() -> None:
    res = run_cli("schedule", "run", "-p", "memory", "--now", FUTURE, "--json")
    assert res.returncode == 0, res.stderr
    [line] = res.stderr.strip().splitlines()
    assert "previous run of memory is now recorded at" in line and "ahead of the clock" in line
    assert line.endswith("undo with: snoozebot schedule reset -p memory")
    assert json.loads(res.stdout) is not None  # stdout stays one JSON document


def test_dry_runs_and_present_runs_do_not_warn() -> None:
    assert run_cli("schedule", "run", "-p", "memory", "--now", FUTURE, "--dry-run").stderr == ""
    assert run_cli("schedule", "run", "-p", "memory").stderr == ""


def test_explain_and_show_say_plainly_that_the_record_lies_in_the_future() -> None:
    assert run_cli("schedule", "run", "-p", "memory", "--now", FUTURE).returncode == 0
    doc = run_cli("schedule", "explain", "mem-0", "-p", "memory", "--json").json()
    assert doc["record_ahead"] is True
    recorded = dt.datetime.fromisoformat(doc["previous_run"])
    assert all(dt.datetime.fromisoformat(b["at"]) > recorded for b in doc["next"])  # no promise it won't keep
    text = run_cli("schedule", "explain", "mem-0", "-p", "memory")
    assert "warning" in text.stdout and "schedule reset -p memory" in text.stdout
    show = run_cli("schedule", "show", "office-hours")
    assert show.returncode == 0 and "previous run of memory is recorded at" in show.stderr


def test_reset_forgets_the_record_and_is_audited() -> None:
    assert run_cli("schedule", "run", "-p", "memory", "--now", FUTURE).returncode == 0
    res = run_cli("schedule", "reset", "-p", "memory")
    assert res.returncode == 0 and "Forgot the previous run of memory" in res.stderr
    doc = run_cli("schedule", "explain", "mem-0", "-p", "memory", "--json").json()
    assert doc["record_ahead"] is False and doc["previous_run"] is None
    [row] = [r for r in run_cli("history", "--json").json() if r["action"] == "reset"]
    assert (row["provider"], row["source"], row["result"]) == ("memory", "schedule", "ok")
    again = run_cli("schedule", "reset")
    assert again.returncode == 0 and "No previous-run record to forget" in again.stderr

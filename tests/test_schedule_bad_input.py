"""Bad calendars, cron periods and `unless_busy`: exit 2 before anything runs, naming schedule and field.

Each case is the real `snoozebot schedule run` over the `memory` fixture
provider with an instance that the run would otherwise stop: it must still
run afterwards, with nothing in the audit log and no run recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

HEAD = """
[providers.memory]
state_file = "{state_file}"
"""

GOOD_PERIOD = '{ days = "mon-fri", stop = "19:00" }'


def schedule(extra: str = "", period: str = GOOD_PERIOD) -> str:
    return f"""
[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{period}]
{extra}
"""


CASES = [
    pytest.param(
        schedule('calendars = ["holidayz"]') + '[calendars.holidays]\ndates = ["2026-12-24"]\n',
        "[schedules.office-hours] calendars: unknown calendar 'holidayz' (known: holidays)",
        id="unknown-calendar",
    ),
    pytest.param(
        schedule('calendars = "holidays"') + '[calendars.holidays]\ndates = ["2026-12-24"]\n',
        "[schedules.office-hours] calendars: must be a list of calendar names",
        id="calendars-not-a-list",
    ),
    pytest.param(
        schedule('calendars = ["holidays"]') + '[calendars.holidays]\nics = "missing.ics"\n',
        "[calendars.holidays] (used by [schedules.office-hours] calendars) ics: cannot read",
        id="unreadable-ics",
    ),
    pytest.param(
        schedule('calendars = ["holidays"]') + '[calendars.holidays]\nics = "garbage.ics"\n',
        "[calendars.holidays] (used by [schedules.office-hours] calendars) ics: ",
        id="invalid-ics",
    ),
    pytest.param(
        schedule('calendars = ["holidays"]') + '[calendars.holidays]\nics = "badrule.ics"\n',
        "bad RRULE",
        id="invalid-rrule",
    ),
    pytest.param(
        schedule(period='{ cron = "0 19 * *", action = "stop" }'),
        "[schedules.office-hours] periods[0].cron: bad cron expression '0 19 * *' (expected five fields",
        id="cron-four-fields",
    ),
    pytest.param(
        schedule(period='{ cron = "61 19 * * 1-5", action = "stop" }'),
        "[schedules.office-hours] periods[0].cron: bad cron expression '61 19 * * 1-5' (Bad minute)",
        id="cron-bad-minute",
    ),
    pytest.param(
        schedule(period='{ cron = "@daily", action = "stop" }'),
        "[schedules.office-hours] periods[0].cron: bad cron expression '@daily'",
        id="cron-nickname",
    ),
    pytest.param(
        schedule(period='{ cron = "0 19 * * 1-5" }'),
        '[schedules.office-hours] periods[0].action: missing; a cron period needs action = "start" or "stop"',
        id="cron-missing-action",
    ),
    pytest.param(
        schedule(period='{ cron = "0 19 * * 1-5", action = "reboot" }'),
        "[schedules.office-hours] periods[0].action: 'reboot'; a cron period needs",
        id="cron-unknown-action",
    ),
    pytest.param(
        schedule(period='{ cron = "0 19 * * 1-5", action = "stop", days = "mon" }'),
        "[schedules.office-hours] periods[0]: unknown key 'days' in a cron period",
        id="cron-with-days",
    ),
    pytest.param(
        schedule('unless_busy = "soon"'),
        "[schedules.office-hours] unless_busy: not a duration: 'soon'",
        id="unless-busy-not-a-duration",
    ),
    pytest.param(
        schedule('unless_busy = "0"'),
        "[schedules.office-hours] unless_busy: must be longer than 0",
        id="unless-busy-zero",
    ),
    pytest.param(
        schedule() + '[calendars.unused]\nics = "garbage.ics"\n',
        "[calendars.unused] ics: ",
        id="unused-calendar-still-checked",
    ),
]


@pytest.mark.parametrize(("config", "message"), CASES)
def test_bad_input_is_exit_2_before_anything_runs(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, config: str, message: str
) -> None:
    state_file = tmp_path / "instances.json"
    state_file.write_text(json.dumps({"m": {"state": "running", "tags": {"snoozebot-schedule": "office-hours"}}}))
    (tmp_path / "garbage.ics").write_text("this is not\nan iCalendar file\n")
    (tmp_path / "badrule.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261224\r\n"
        "RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    path = tmp_path / "config.toml"
    path.write_text(HEAD.format(state_file=state_file) + config)
    monkeypatch.setenv("SNOOZEBOT_CONFIG", str(path))
    for args in (["run", "-p", "memory", "--now", "2026-11-23T19:05:00+01:00"],
                 ["show", "office-hours"],
                 ["explain", "m", "-p", "memory"]):
        res = run_cli("schedule", *args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert message in res.stderr, res.stderr
        assert res.stderr.startswith(f"snoozebot: error: {path}: ") and res.stderr.count("\n") == 1, res.stderr
    assert json.loads(state_file.read_text())["m"]["state"] == "running"
    assert not (isolated_home / "audit.sqlite3").exists()
    assert not (isolated_home / "schedule-runs.json").exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("activity.json", "{not json"),
        ("activity.json", '{"reports": []}'),
        ("schedule-deferred.json", '{"providers": {"memory": {"m": "yesterday"}}}'),
    ],
)
def test_a_damaged_report_or_deferral_file_is_exit_3_and_left_alone(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: str
) -> None:
    state_file = tmp_path / "instances.json"
    state_file.write_text(json.dumps({"m": {"state": "running", "tags": {"snoozebot-schedule": "office-hours"}}}))
    path = tmp_path / "config.toml"
    path.write_text(HEAD.format(state_file=state_file) + schedule('unless_busy = "30m"'))
    monkeypatch.setenv("SNOOZEBOT_CONFIG", str(path))
    (isolated_home / name).write_text(content)
    res = run_cli("schedule", "run", "-p", "memory", "--now", "2026-11-23T19:05:00+01:00")
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert res.stderr.count("\n") == 1 and f"state file {isolated_home / name} cannot be read" in res.stderr
    assert (isolated_home / name).read_text() == content
    assert json.loads(state_file.read_text())["m"]["state"] == "running"

"""What a run does to one instance, with a controllable clock (pure functions, no I/O)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from snoozebot.schedule.activity import ActivityReport
from snoozebot.schedule.decision import decide, parse_snooze_until
from snoozebot.schedule.grammar import parse_schedule
from snoozebot.schedule.runner import window_start
from snoozebot.sdk import Instance, InstanceState

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULES = {
    "office-hours": parse_schedule(
        "office-hours",
        {
            "timezone": "Europe/Berlin",
            "periods": [{"days": "mon-fri", "start": "08:00", "stop": "19:00"}, {"days": "sat", "stop": "13:00"}],
            "skip_dates": ["2026-12-24"],
        },
    )
}
# Monday 2026-11-23, Berlin = UTC+1: start 07:00 UTC, stop 18:00 UTC.
MON_START = dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
MON_STOP = dt.datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def vm(state: str = "running", **tags: str) -> Instance:
    tags = {"snoozebot-schedule": "office-hours", **{k.replace("_", "-"): v for k, v in tags.items()}}
    return Instance(id="i-1", provider="memory", state=InstanceState.parse(state), tags=tags)


def run(instance: Instance, *, after: dt.datetime, now: dt.datetime):
    return decide(instance, SCHEDULES, after=after, now=now)


def test_stop_boundary_stops_a_running_instance() -> None:
    d = run(vm("running"), after=MON_STOP - dt.timedelta(minutes=10), now=MON_STOP + dt.timedelta(minutes=1))
    assert (d.action, d.ok, d.schedule) == ("stop", True, "office-hours")
    assert d.boundary is not None and d.boundary.at == MON_STOP
    assert "19:00:00+01:00" in d.reason


def test_stop_boundary_stops_a_pending_instance_and_leaves_a_stopped_one() -> None:
    after, now = MON_STOP - dt.timedelta(minutes=10), MON_STOP
    assert run(vm("pending"), after=after, now=now).action == "stop"
    for state in ("stopped", "stopping", "suspended", "terminated"):
        assert run(vm(state), after=after, now=now).action == "none", state


def test_start_boundary_starts_stopped_and_suspended_instances() -> None:
    after, now = MON_START - dt.timedelta(minutes=10), MON_START + dt.timedelta(minutes=5)
    assert run(vm("stopped"), after=after, now=now).action == "start"
    assert run(vm("suspended"), after=after, now=now).action == "start"
    assert run(vm("running"), after=after, now=now).action == "none"
    assert run(vm("stopping"), after=after, now=now).action == "none"


def test_unknown_state_is_never_acted_on() -> None:
    for after, now in ((MON_STOP - dt.timedelta(minutes=1), MON_STOP), (MON_START - dt.timedelta(minutes=1), MON_START)):
        d = run(vm("unknown"), after=after, now=now)
        assert d.action == "none" and "unknown" in d.reason


def test_no_boundary_in_the_window_means_no_action() -> None:
    d = run(vm("running"), after=MON_START, now=MON_STOP - dt.timedelta(minutes=1))
    assert (d.action, d.ok) == ("none", True)


def test_missed_runs_still_stop_the_machine() -> None:
    # Cron was down from Monday 17:00 to Tuesday 06:00 UTC: the stop at 18:00 is applied late.
    d = run(vm("running"), after=MON_STOP - dt.timedelta(hours=1), now=MON_STOP + dt.timedelta(hours=12))
    assert d.action == "stop"


def test_latest_boundary_decides_a_long_window() -> None:
    # Friday 17:50 .. Monday 07:30 UTC: Fri stop, Sat stop, Mon start -> the start decides.
    after = dt.datetime(2026, 11, 27, 17, 50, tzinfo=UTC)
    now = dt.datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    assert run(vm("stopped"), after=after, now=now).action == "start"
    assert run(vm("running"), after=after, now=now).action == "none"


def test_a_manual_start_between_boundaries_is_left_alone() -> None:
    # Runs every 10 minutes. At 18:00 the stop applies; a person starts it at 20:00.
    first = run(vm("running"), after=MON_STOP - dt.timedelta(minutes=10), now=MON_STOP)
    assert first.action == "stop"
    later = MON_STOP + dt.timedelta(hours=2, minutes=10)
    assert run(vm("running"), after=later - dt.timedelta(minutes=10), now=later).action == "none"
    # ...until the next stop boundary (Tuesday 19:00 Berlin).
    tue_stop = MON_STOP + dt.timedelta(days=1)
    assert run(vm("running"), after=tue_stop - dt.timedelta(minutes=10), now=tue_stop).action == "stop"


def test_weekend_has_no_start() -> None:
    sat = dt.datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert run(vm("stopped"), after=sat - dt.timedelta(hours=1), now=sat).action == "none"
    sat_stop = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert run(vm("running"), after=sat_stop - dt.timedelta(minutes=5), now=sat_stop).action == "stop"


def test_skip_date_start_is_skipped() -> None:
    start = dt.datetime(2026, 12, 24, 7, 0, tzinfo=UTC)
    assert run(vm("stopped"), after=start - dt.timedelta(minutes=5), now=start).action == "none"


def test_dst_change_moves_the_utc_time_of_the_stop() -> None:
    # After 2026-03-29 Berlin is UTC+2: Monday 30 March's stop is at 17:00 UTC.
    stop = dt.datetime(2026, 3, 30, 17, 0, tzinfo=UTC)
    assert run(vm("running"), after=stop - dt.timedelta(minutes=1), now=stop).action == "stop"
    assert run(vm("running"), after=stop, now=stop + dt.timedelta(minutes=59)).action == "none"


def test_opt_out_is_always_honoured() -> None:
    for value in ("never", "Never", " NEVER "):
        d = decide(vm(snoozebot_schedule=value), SCHEDULES, after=MON_STOP - dt.timedelta(hours=1), now=MON_STOP)
        assert (d.action, d.ok, d.schedule) == ("skip", True, "never")


def test_unknown_schedule_fails_that_instance() -> None:
    d = decide(vm(snoozebot_schedule="office-hourz"), SCHEDULES, after=MON_STOP - dt.timedelta(hours=1), now=MON_STOP)
    assert (d.action, d.ok, d.error_code) == ("none", False, "unknown_schedule")
    assert d.error() == {"code": "unknown_schedule", "message": "unknown schedule 'office-hourz' (known: office-hours)"}


@pytest.mark.parametrize(
    ("value", "until"),
    [
        ("2026-11-24", dt.datetime(2026, 11, 23, 23, 0, tzinfo=UTC)),  # 00:00 Berlin
        ("2026-11-24T09:30", dt.datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),
        ("2026-11-24T09:30:15", dt.datetime(2026, 11, 24, 8, 30, 15, tzinfo=UTC)),
        ("2026-11-24T09:30:00Z", dt.datetime(2026, 11, 24, 9, 30, tzinfo=UTC)),
        ("2026-11-24T09:30:00-05:00", dt.datetime(2026, 11, 24, 14, 30, tzinfo=UTC)),
        ("20261124t0930", dt.datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),
        ("20261124T0930", dt.datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),
        ("20260329t0230", dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),  # in the DST gap
    ],
)
def test_snooze_until_formats(value: str, until: dt.datetime) -> None:
    assert parse_snooze_until(value, BERLIN) == until


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01", "20261124t2561", "2026/11/24", "2026-11-24T09:30+25:00"])
def test_bad_snooze_until_values(value: str) -> None:
    with pytest.raises(ValueError, match="snooze-until"):
        parse_snooze_until(value, BERLIN)


def test_snooze_until_skips_until_it_passes() -> None:
    inst = vm("running", snoozebot_snooze_until="20261124t0000")  # Tuesday 00:00 Berlin
    d = run(inst, after=MON_STOP - dt.timedelta(minutes=5), now=MON_STOP)
    assert (d.action, d.ok) == ("skip", True)
    assert d.snooze_until == dt.datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    tue_stop = MON_STOP + dt.timedelta(days=1)
    assert run(inst, after=tue_stop - dt.timedelta(minutes=5), now=tue_stop).action == "stop"


def test_bad_snooze_until_fails_that_instance_alone() -> None:
    d = run(vm("running", snoozebot_snooze_until="soon"), after=MON_STOP - dt.timedelta(minutes=5), now=MON_STOP)
    assert (d.action, d.ok, d.error_code) == ("none", False, "bad_snooze_until")


def test_window_start() -> None:
    now = MON_STOP
    assert window_start(None, now) == now - dt.timedelta(hours=1)
    prev = now - dt.timedelta(minutes=10)
    assert window_start(prev, now) == prev
    # A --now earlier than the record gives an empty window.
    later = now + dt.timedelta(hours=5)
    assert run(vm("running"), after=window_start(later, now), now=now).action == "none"


# Busy-aware stops (unless_busy) and the order tag.

BUSY_AWARE = {
    "office-hours": parse_schedule(
        "office-hours",
        {
            "timezone": "Europe/Berlin",
            "periods": [{"days": "mon-fri", "start": "08:00", "stop": "19:00"}],
            "unless_busy": "30m",
        },
    )
}
TUE_START = MON_START + dt.timedelta(days=1)


def report(at: dt.datetime, *, idle: bool = False) -> ActivityReport:
    cpu = {"value": 73.0, "unit": "%", "threshold": 10.0, "idle": idle, "error": None}
    return ActivityReport("memory", "i-1", at, idle, {"cpu": cpu})


def busy_aware(instance: Instance, *, after: dt.datetime, now: dt.datetime, **kwargs: Any):
    return decide(instance, BUSY_AWARE, after=after, now=now, **kwargs)


def test_a_recent_busy_report_defers_the_stop() -> None:
    now = MON_STOP + dt.timedelta(minutes=5)
    got = busy_aware(vm(), after=MON_STOP - dt.timedelta(minutes=5), now=now, activity=report(now - dt.timedelta(minutes=3)))
    assert (got.action, got.ok, got.boundary.at) == ("defer", True, MON_STOP)
    assert "reported busy 3 min before now (cpu 73%), within unless_busy 30m" in got.reason


@pytest.mark.parametrize(
    "activity",
    [
        report(MON_STOP - dt.timedelta(minutes=26)),              # 31 min before now: stale
        report(MON_STOP + dt.timedelta(minutes=1), idle=True),    # recent, but idle
        report(MON_STOP + dt.timedelta(minutes=6)),               # after --now: does not count
        None,
    ],
)
def test_stale_idle_future_or_no_reports_do_not_hold_the_stop(activity: ActivityReport | None) -> None:
    now = MON_STOP + dt.timedelta(minutes=5)
    assert busy_aware(vm(), after=MON_STOP - dt.timedelta(minutes=5), now=now, activity=activity).action == "stop"


def test_without_unless_busy_a_busy_report_changes_nothing() -> None:
    now = MON_STOP + dt.timedelta(minutes=5)
    got = decide(vm(), SCHEDULES, after=MON_STOP - dt.timedelta(minutes=5), now=now, activity=report(now))
    assert got.action == "stop"


def test_a_deferred_stop_is_tried_again_until_the_next_start_boundary() -> None:
    later = MON_STOP + dt.timedelta(hours=2)
    window = {"after": later - dt.timedelta(minutes=10), "now": later}
    # Still busy: deferred again; idle now: the owed stop is made; already stopped: nothing.
    assert busy_aware(vm(), **window, deferred=MON_STOP, activity=report(later)).action == "defer"
    got = busy_aware(vm(), **window, deferred=MON_STOP, activity=report(later, idle=True))
    assert got.action == "stop" and "(deferred, tried again)" in got.reason
    assert busy_aware(vm("stopped"), **window, deferred=MON_STOP).action == "none"
    # The next start boundary inside the window decides instead ...
    got = busy_aware(vm(), after=TUE_START - dt.timedelta(minutes=5), now=TUE_START + dt.timedelta(minutes=5),
                     deferred=MON_STOP, activity=report(TUE_START))
    assert (got.action, got.boundary.action) == ("none", "start")
    # ... and once it has passed, the deferred stop is owed no more.
    got = busy_aware(vm(), after=TUE_START + dt.timedelta(minutes=5), now=TUE_START + dt.timedelta(minutes=15),
                     deferred=MON_STOP)
    assert (got.action, got.boundary) == ("none", None)


@pytest.mark.parametrize(("value", "order"), [("", 0), ("0", 0), ("3", 3), ("-2", -2), (" 7 ", 7)])
def test_order_tags(value: str, order: int) -> None:
    got = run(vm(snoozebot_order=value), after=MON_STOP - dt.timedelta(minutes=5), now=MON_STOP)
    assert (got.action, got.order) == ("stop", order)


@pytest.mark.parametrize("value", ["first", "1.5", "0x10", "1e3"])
def test_a_bad_order_tag_fails_that_instance(value: str) -> None:
    got = run(vm(snoozebot_order=value), after=MON_STOP - dt.timedelta(minutes=5), now=MON_STOP)
    assert (got.action, got.ok, got.error_code) == ("none", False, "bad_order")

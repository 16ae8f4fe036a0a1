"""One idle check from sample to stop, in-process: injected readings, clock and boot time."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from snoozebot import sdk
from snoozebot.idle.check import StopOutcome, run_check
from snoozebot.idle.readings import Reading, Readings
from snoozebot.idle.settings import resolve_settings
from snoozebot.idle.tracker import IdleTracker

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
BOOT = T0 - dt.timedelta(days=1)
ME = sdk.Instance(id="i-me", provider="aws", state=sdk.InstanceState.STOPPING)

IDLE = Readings(Reading(1.0), Reading(0.5), Reading(2.0), None, Reading(0.0))
BUSY = Readings(Reading(55.0), Reading(0.5), Reading(2.0), None, Reading(0.0))
FAILED = Readings(Reading.failed("no cpu"), Reading(0.5), Reading(2.0), None, Reading(0.0))


class Scripted:
    """A sampler that returns the readings it was given, one per sample."""

    def __init__(self, *samples: Readings) -> None:
        self.samples = list(samples)
        self.seconds: list[float] = []

    def sample(self, seconds: float) -> Readings:
        self.seconds.append(seconds)
        return self.samples.pop(0)


class Stopper:
    def __init__(self, outcome: StopOutcome | None = None) -> None:
        self.calls: list[bool] = []
        self.outcome = outcome or StopOutcome("stop", ME)

    def __call__(self, *, dry_run: bool) -> StopOutcome:
        self.calls.append(dry_run)
        return StopOutcome("would-stop", self.outcome.instance) if dry_run else self.outcome


@pytest.fixture
def tracker(tmp_path: Path) -> IdleTracker:
    return IdleTracker(tmp_path)


def check(tracker, readings, *, at, naptime="30m", stop=None, dry_run=False, boot=BOOT):
    return run_check(
        Scripted(readings),
        resolve_settings({}, naptime=naptime),
        tracker,
        stop or Stopper(),
        clock=lambda: at,
        boot_time=boot,
        dry_run=dry_run,
    )


def test_busy_does_nothing(tracker: IdleTracker) -> None:
    stop = Stopper()
    result = check(tracker, BUSY, at=T0, stop=stop)
    assert (result.idle, result.idle_since, result.action, result.instance) == (False, None, "none", None)
    assert stop.calls == [] and not tracker.path.exists()


def test_idle_for_the_nap_time_stops_once(tracker: IdleTracker) -> None:
    stop = Stopper()
    first = check(tracker, IDLE, at=T0, stop=stop)
    assert (first.idle, first.idle_since, first.action) == (True, T0, "none")
    assert json.loads(tracker.path.read_text()) == {"idle_since": T0.isoformat()}
    almost = check(tracker, IDLE, at=T0 + dt.timedelta(minutes=29, seconds=59), stop=stop)
    assert (almost.idle_since, almost.action, stop.calls) == (T0, "none", [])
    due = check(tracker, IDLE, at=T0 + dt.timedelta(minutes=30), stop=stop)
    assert (due.idle_since, due.action, due.instance, stop.calls) == (T0, "stop", ME, [False])
    assert due.to_dict()["instance"]["id"] == "i-me"
    # A machine that comes back (e.g. resumed from hibernation) starts its idleness afresh.
    assert not tracker.path.exists()


def test_activity_resets_the_nap(tracker: IdleTracker) -> None:
    stop = Stopper()
    check(tracker, IDLE, at=T0, stop=stop)
    check(tracker, BUSY, at=T0 + dt.timedelta(minutes=20), stop=stop)
    assert not tracker.path.exists()
    again = check(tracker, IDLE, at=T0 + dt.timedelta(minutes=40), stop=stop)
    assert (again.idle_since, again.action) == (T0 + dt.timedelta(minutes=40), "none")
    assert stop.calls == []


def test_a_failed_reading_never_stops(tracker: IdleTracker) -> None:
    stop = Stopper()
    check(tracker, IDLE, at=T0, stop=stop)
    result = check(tracker, FAILED, at=T0 + dt.timedelta(hours=5), naptime="0", stop=stop)
    assert (result.idle, result.action, stop.calls) == (False, "none", [])
    assert result.readings["cpu"]["error"] == "no cpu"


def test_naptime_zero_acts_on_the_first_idle_reading(tracker: IdleTracker) -> None:
    stop = Stopper()
    assert check(tracker, IDLE, at=T0, naptime="0", stop=stop).action == "stop"
    assert stop.calls == [False]


def test_idle_since_older_than_the_last_boot_is_discarded(tracker: IdleTracker) -> None:
    tracker.remember(T0 - dt.timedelta(hours=3))
    stop = Stopper()
    result = check(tracker, IDLE, at=T0, stop=stop, boot=T0 - dt.timedelta(minutes=5))
    assert (result.idle_since, result.action, stop.calls) == (T0, "none", [])
    assert json.loads(tracker.path.read_text()) == {"idle_since": T0.isoformat()}


def test_dry_run_changes_nothing_idle_since_included(tracker: IdleTracker) -> None:
    stop = Stopper()
    first = check(tracker, IDLE, at=T0, stop=stop, dry_run=True, naptime="0")
    assert (first.action, stop.calls) == ("would-stop", [True])
    assert not tracker.path.exists()
    tracker.remember(T0)
    check(tracker, BUSY, at=T0 + dt.timedelta(minutes=1), dry_run=True)
    assert json.loads(tracker.path.read_text()) == {"idle_since": T0.isoformat()}


def test_a_failed_stop_keeps_idle_since_and_reports_the_error(tracker: IdleTracker) -> None:
    stop = Stopper(StopOutcome("stop", ME, "stopping i-me failed: denied"))
    result = check(tracker, IDLE, at=T0, naptime="0", stop=stop)
    assert (result.ok, result.error, result.action) == (False, "stopping i-me failed: denied", "stop")
    assert tracker.path.exists()


def test_the_json_shape(tracker: IdleTracker) -> None:
    doc = check(tracker, IDLE, at=T0).to_dict()
    assert list(doc) == ["idle", "idle_since", "readings", "action", "instance"]
    assert doc["idle_since"] == "2026-11-24T09:00:00+00:00"
    assert set(doc["readings"]) == {"cpu", "network", "disk", "gpu", "sessions"}

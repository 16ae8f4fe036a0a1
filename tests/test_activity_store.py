"""Activity reports in the state store, in-process, on both backends: the last report per instance,
and the `activity.json` of an older snoozebot imported once (a report stored since wins)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from snoozebot.errors import StateDamaged
from snoozebot.schedule.activity import ActivityReport, ActivityStore

pytestmark = pytest.mark.both_backends

NOW = dt.datetime(2027, 1, 4, 18, 0, 30, 123456, tzinfo=dt.UTC)
GPU = {"gpu": {"value": 90.0, "unit": "%", "threshold": 5.0, "idle": False}}


def report(instance: str, *, minutes: float = 0, idle: bool = False) -> ActivityReport:
    at = NOW + dt.timedelta(minutes=minutes)
    return ActivityReport("aws", instance, at, idle, {} if idle else GPU, at - dt.timedelta(hours=1) if idle else None)


def test_the_last_report_of_each_instance_is_kept(tmp_path: Path) -> None:
    store = ActivityStore.in_directory(tmp_path)
    assert store.for_provider("aws") == {}
    store.record(report("i-0abc"))
    store.record(report("i-0def", idle=True))
    store.record(report("i-0abc", minutes=5, idle=True))  # the newer one replaces it
    store.record(ActivityReport("gcp", "zone/vm", NOW, False))
    found = ActivityStore.in_directory(tmp_path).for_provider("aws")
    assert found == {"i-0abc": report("i-0abc", minutes=5, idle=True), "i-0def": report("i-0def", idle=True)}
    assert found["i-0def"].to_dict()["idle_since"] == "2027-01-04T17:00:30.123456+00:00"
    assert list(store.for_provider("gcp")) == ["zone/vm"]


def test_an_old_activity_file_is_imported_once_and_a_newer_report_wins(tmp_path: Path) -> None:
    store = ActivityStore.in_directory(tmp_path)
    store.record(report("i-0def", minutes=10, idle=True))  # stored since the file was written
    old = {r.instance_id: r.to_dict() for r in (report("i-0abc"), report("i-0def"))}
    old["i-bad"] = {"provider": "aws", "id": "i-bad", "at": "yesterday"}  # a damaged entry is no report
    (tmp_path / "activity.json").write_text(json.dumps({"reports": {"aws": old}}))
    found = ActivityStore.in_directory(tmp_path).for_provider("aws")
    assert found == {"i-0abc": report("i-0abc"), "i-0def": report("i-0def", minutes=10, idle=True)}
    assert not (tmp_path / "activity.json").exists() and (tmp_path / "activity.json.imported").exists()
    (tmp_path / "activity.json.imported").unlink()
    assert ActivityStore.in_directory(tmp_path).for_provider("aws") == found  # in the store now


def test_a_damaged_old_file_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "activity.json").write_text('{"reports": []}')
    with pytest.raises(StateDamaged, match="activity.json cannot be read"):
        ActivityStore.in_directory(tmp_path).for_provider("aws")
    assert (tmp_path / "activity.json").read_text() == '{"reports": []}'

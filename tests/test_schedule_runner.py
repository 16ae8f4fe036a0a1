"""The runner's bookkeeping in-process: when the previous-run record moves, and batch failures.

The provider here is a small stand-in for ProviderClient (a crash in the middle
of a batched stop cannot be provoked through the fixture plugins, which crash on
listing first); everything else is real: the audit log, the record, the decisions, on both
backends (SQLite in the state directory, a PostgreSQL database) but for the damaged file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from state_rows import select

from snoozebot import sdk
from snoozebot.audit import AuditLog
from snoozebot.errors import PluginCrashed, StateDamaged
from snoozebot.locks import InstanceLocks
from snoozebot.operations import ActionContext
from snoozebot.results import ActionResult
from snoozebot.schedule.grammar import parse_schedule
from snoozebot.schedule.runner import RunRecord, run_all

NOW = dt.datetime(2026, 11, 23, 18, 5, tzinfo=dt.UTC)  # 19:05 Berlin, just after the stop
SCHEDULES = {
    "office-hours": parse_schedule(
        "office-hours",
        {"timezone": "Europe/Berlin", "periods": [{"days": "mon-fri", "start": "08:00", "stop": "19:00"}]},
    )
}


def vm(iid: str, state: str = "running") -> sdk.Instance:
    return sdk.Instance(iid, "stub", sdk.InstanceState.parse(state), tags={"snoozebot-schedule": "office-hours"})


class StubClient:
    name = "stub"

    def __init__(self, instances: list[sdk.Instance], *, crash: bool = False, refuse: set[str] = frozenset()):
        self.instances, self.crash, self.refuse = instances, crash, refuse
        self.calls: list[tuple[str, list[str]]] = []

    def list_instances(self, filters: dict[str, str]) -> list[sdk.Instance]:
        self.calls.append(("list", sorted(filters)))
        return self.instances

    def stop_instances(self, ids: list[str], *, hibernate: bool = False, dry_run: bool = False):
        self.calls.append(("stop", ids))
        if self.crash:
            raise PluginCrashed("stub", "plugin 'stub' crashed during stop_instances (exit code 17)")
        return [
            ActionResult.failed(i, "stub", sdk.PermissionDenied("stop protection is on"))
            if i in self.refuse
            else ActionResult(i, "stub", instance=vm(i, "stopping"))
            for i in ids
        ]


def context(directory: Path) -> ActionContext:
    return ActionContext(AuditLog.in_directory(directory), InstanceLocks(directory), lock_timeout=5)


def audit_rows(directory: Path) -> list[tuple[str, str, str | None]]:
    return select(directory, "SELECT instance, result, error_code FROM attempts ORDER BY instance")


@pytest.mark.both_backends
def test_one_list_and_one_batched_stop(tmp_path: Path) -> None:
    client = StubClient([vm("a"), vm("b"), vm("c", "stopped")])
    record = RunRecord(tmp_path)
    report = run_all([client], context(tmp_path), SCHEDULES, record, now=NOW, dry_run=False, actor="t")
    assert client.calls == [("list", []), ("stop", ["a", "b"])]
    assert [(r.id, r.action, r.ok) for r in report.rows] == [("a", "stop", True), ("b", "stop", True), ("c", "none", True)]
    assert report.ok and record.previous("stub") == NOW


@pytest.mark.both_backends
def test_per_instance_failures_still_count_as_a_run(tmp_path: Path) -> None:
    client = StubClient([vm("a"), vm("b")], refuse={"b"})
    record = RunRecord(tmp_path)
    report = run_all([client], context(tmp_path), SCHEDULES, record, now=NOW, dry_run=False, actor="t")
    assert [(r.id, r.ok, (r.error or {}).get("code")) for r in report.rows] == [
        ("a", True, None),
        ("b", False, "permission_denied"),
    ]
    assert not report.ok and report.failures == []
    assert record.previous("stub") == NOW  # a rerun must not stop again what a person starts now
    assert audit_rows(tmp_path) == [("a", "ok", None), ("b", "error", "permission_denied")]


@pytest.mark.both_backends
def test_a_batch_that_fails_as_a_whole_fails_its_rows_and_keeps_the_window(tmp_path: Path) -> None:
    client = StubClient([vm("a"), vm("b")], crash=True)
    record = RunRecord(tmp_path)
    report = run_all([client], context(tmp_path), SCHEDULES, record, now=NOW, dry_run=False, actor="t")
    assert [(r.id, r.action, r.ok, (r.error or {}).get("code")) for r in report.rows] == [
        ("a", "stop", False, "plugin_crashed"),
        ("b", "stop", False, "plugin_crashed"),
    ]
    assert [f.provider for f in report.failures] == ["stub"]
    assert record.previous("stub") is None  # the next run retries the same boundary
    assert audit_rows(tmp_path) == [("a", "error", "plugin_crashed"), ("b", "error", "plugin_crashed")]


@pytest.mark.both_backends
def test_the_record_never_moves_back(tmp_path: Path) -> None:
    record = RunRecord(tmp_path)
    record.record("stub", NOW)
    record.record("stub", NOW - dt.timedelta(hours=1))
    assert record.previous("stub") == NOW
    assert RunRecord(tmp_path).providers() == ["stub"]


def test_a_damaged_record_file_is_never_read_as_no_record(tmp_path: Path) -> None:
    record = RunRecord(tmp_path)
    record.record("stub", NOW)
    (tmp_path / "schedule-runs.json").write_text("{not json")
    with pytest.raises(StateDamaged, match="schedule-runs.json"):
        record.previous("stub")  # never the default window: that would move the schedule window
    with pytest.raises(StateDamaged):
        record.record("stub", NOW + dt.timedelta(hours=1))
    assert (tmp_path / "schedule-runs.json").read_text() == "{not json"

"""The audit log shared by every process: pending-then-complete rows, safe to open concurrently.

On both backends: SQLite in the state directory, and a PostgreSQL database.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from snoozebot import sdk
from snoozebot.audit import AuditLog
from snoozebot.results import ActionResult, Failure

pytestmark = pytest.mark.both_backends


def _record(home: Path, instance: str, barrier: Any) -> None:
    log = AuditLog.in_directory(home)
    barrier.wait(timeout=30)  # everyone opens the brand-new log at the same moment
    [row] = log.begin(actor="t", source="test", provider="p", action="stop", instances=[instance], dry_run=False)
    log.finish([(row, ActionResult(instance, "p", sdk.Instance(instance, "p", sdk.InstanceState.STOPPING)))])


def test_many_processes_opening_a_new_log_at_once_lose_nothing(isolated_home: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(12)
    procs = [ctx.Process(target=_record, args=(isolated_home, f"i-{n}", barrier)) for n in range(12)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * 12
    entries = AuditLog.in_directory(isolated_home).entries(limit=100)
    assert sorted(e.instance for e in entries) == sorted(f"i-{n}" for n in range(12))
    assert {e.result for e in entries} == {"ok"}


def test_an_attempt_is_pending_until_finished_and_filters_apply(isolated_home: Path) -> None:
    log = AuditLog.in_directory(isolated_home)
    rows = log.begin(actor="cli:me", source="cli", provider="aws", action="stop", instances=["a", "b"], dry_run=True)
    assert [e.result for e in log.entries()] == ["pending", "pending"]
    stopped = ActionResult("a", "aws", sdk.Instance("a", "aws", sdk.InstanceState.STOPPED))
    gone = ActionResult("b", "aws", failure=Failure("instance_not_found", "gone"))
    log.finish([(rows[0], stopped), (rows[1], gone)])
    [failed] = log.entries(result="error")
    assert failed.instance == "b" and failed.to_dict()["error"] == {"code": "instance_not_found", "message": "gone"}
    assert [e.instance for e in log.entries(provider="aws", action="stop")] == ["b", "a"]
    assert log.entries(provider="gcp") == []

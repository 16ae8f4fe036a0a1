"""SharedSessions (the UI's sessions in a store's table) on both real stores: expiry, bound, notices.

An agent keeps its sessions in this table only with a shared store (PostgreSQL); on SQLite
the table works the same, which is what lets this test run on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from snoozebot.agent.ui.session import SharedSessions
from snoozebot.store import open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.both_backends
def test_shared_sessions_expire_are_bounded_and_keep_their_notices(isolated_home: Path) -> None:
    clock = Clock()
    store = open_store(isolated_home)
    sessions = SharedSessions(store, idle_seconds=10, max_seconds=25, max_sessions=2, clock=clock)
    first = sessions.create("sbt_secret")
    found = sessions.get(first.id)
    assert found is not None and (found.token, found.csrf) == ("sbt_secret", first.csrf)
    found.notify("ok", "Stopped mem-0.")
    again = SharedSessions(store, clock=clock).get(first.id)  # another agent's view of the same table
    assert again is not None and again.take_notices() == [("ok", "Stopped mem-0.")]
    assert sessions.get(first.id).take_notices() == []  # type: ignore[union-attr]
    clock.now += 6
    assert sessions.get(first.id) is not None  # seen again: the idle timer restarts
    clock.now += 9
    assert sessions.get(first.id) is not None
    clock.now += 11
    assert sessions.get(first.id) is None and len(sessions) == 0
    made = [sessions.create(f"t{i}") for i in range(3)]
    assert len(sessions) == 2 and sessions.get(made[0].id) is None  # the oldest went
    sessions.end(made[2].id)
    assert sessions.get(made[2].id) is None and sessions.get("nope") is None

"""The schedule runs' previous-run records in a shared store (docs/shared-state.md).

One row per provider in ``schedule_runs``; a record moves forward only
(the update itself refuses to move it back, whoever runs it). Runs on every
machine of the store are serialised by one cross-machine lock, so two runs
that race act once: the second finds the window already covered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager

from snoozebot.errors import StateDamaged
from snoozebot.store.base import Session, Store

__all__ = ["SharedRunRecords"]

_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
"""Fixed width, UTC: the text order is the time order."""


def _stored(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_FORMAT)


class SharedRunRecords:
    """``schedule_runs``: each provider's previous successful run."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self) -> dict[str, dt.datetime]:
        """Every provider's previous run; a row that is no time is StateDamaged."""

        def query(db: Session) -> list[tuple[object, ...]]:
            return db.execute("SELECT provider, previous FROM schedule_runs")

        loaded = {}
        nothing: list[tuple[object, ...]] = []
        for provider, previous in self.store.read(query, empty=nothing):
            try:
                loaded[str(provider)] = dt.datetime.fromisoformat(str(previous))
            except ValueError:
                raise StateDamaged(
                    "schedule_runs", f"the previous run recorded for {provider!r} is not a time: {previous!r}"
                ) from None
        return loaded

    def advance(self, provider: str, now: dt.datetime) -> None:
        """Move the provider's record forward to ``now``; never backwards."""
        with self.store.session(consequence="the run's record did not move") as db:
            db.execute(
                "INSERT INTO schedule_runs (provider, previous) VALUES (?, ?)"
                " ON CONFLICT (provider) DO UPDATE SET previous = excluded.previous"
                " WHERE schedule_runs.previous < excluded.previous",
                (provider, _stored(now)),
            )

    def forget(self, providers: Sequence[str]) -> list[str]:
        """Remove the records of ``providers``; the names that had one."""
        gone = []
        with self.store.session(consequence="no record was forgotten") as db, db.transaction():
            for name in providers:
                if db.execute("SELECT provider FROM schedule_runs WHERE provider = ?", (name,)):
                    db.execute("DELETE FROM schedule_runs WHERE provider = ?", (name,))
                    gone.append(name)
        return gone

    def locked(self, *, timeout: float) -> AbstractContextManager[None]:
        """The lock that serialises schedule runs on every machine of the store."""
        return self.store.hold(["schedule-runs"], timeout=timeout, what="schedule runs")

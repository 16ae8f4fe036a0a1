"""Where the savings journal is kept: the queries, behind one small interface.

:class:`JournalStore` is all the journal (:mod:`snoozebot.savings.journal`)
and the report (:mod:`snoozebot.savings.report`) ask of a database;
:class:`SqliteJournalStore` answers it from ``savings.sqlite3`` in the state
directory. Another database (PostgreSQL, see ``docs/savings.md``) is another
class with the same few queries.

Two tables. ``snoozes``: one row per *snoozed interval*, opened by a stop,
closed (``ended``) by a start or by a listing that sees the instance awake; at
most one interval of an instance is open at a time (a partial unique index
says so). ``details``: each distinct (type, region, tags) once, which an
interval points to (NULL until known), so the report's sums group by integers.
Times are Unix seconds (UTC).

The database clips and sums the intervals (:meth:`JournalStore.snoozed`):
``benchmarks/bench_savings.py``'s 60,000 intervals make a report in 49-155 ms
this way (by the machine's load), against 1.6 s when every interval was read
into Python (see ``docs/savings.md``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from snoozebot.state import damaged, exclusive_lock

__all__ = ["JOURNAL_FILE", "Details", "JournalStore", "OpenInterval", "Snoozed", "SqliteJournalStore"]

JOURNAL_FILE = "savings.sqlite3"
"""The journal's file name in the state directory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS details (
    id INTEGER PRIMARY KEY,
    instance_type TEXT NOT NULL,
    region TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (instance_type, region, tags)
);
CREATE TABLE IF NOT EXISTS snoozes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    instance TEXT NOT NULL,
    details INTEGER REFERENCES details (id),
    source TEXT NOT NULL,
    target TEXT,
    started REAL NOT NULL,
    ended REAL,
    ended_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS snoozes_open ON snoozes (provider, instance) WHERE ended IS NULL;
CREATE INDEX IF NOT EXISTS snoozes_started ON snoozes (started);
CREATE INDEX IF NOT EXISTS snoozes_instance ON snoozes (provider, instance);
"""


@dataclass(frozen=True)
class Details:
    """What prices an instance and groups it: its type, region and tags (``""``: the cloud says none)."""

    instance_type: str
    region: str
    tags: dict[str, str]


@dataclass(frozen=True)
class OpenInterval:
    """An interval not closed yet, and whether its details are known."""

    id: int
    instance: str
    known: bool


class Snoozed(NamedTuple):
    """Seconds one instance (with one set of details) was snoozed inside a window, or one day of it."""

    provider: str
    instance: str
    details: Details | None
    seconds: float
    day: float | None = None
    """Unix seconds of the UTC day's 00:00, when asked per day."""
    target: str | None = None
    """The fleet target it was stopped through (docs/fleets.md), None for ``-p`` and the rest."""


class JournalStore(Protocol):
    """The queries of the savings journal."""

    def open_intervals(self, provider: str) -> list[OpenInterval]:
        """The provider's open intervals (one query; none when the journal does not exist)."""
        ...

    def last_details(self, provider: str, instances: Sequence[str]) -> dict[str, Details]:
        """The latest known details of each of ``instances`` (from earlier intervals)."""
        ...

    def open(
        self,
        provider: str,
        opened: Sequence[tuple[str, Details | None]],
        *,
        source: str,
        at: float,
        target: str | None = None,
    ) -> None:
        """Open an interval for each instance that has no open one (stopped through ``target``)."""
        ...

    def close(self, provider: str, instances: Sequence[str], *, at: float, by: str) -> None:
        """Close the open intervals of ``instances``."""
        ...

    def fill(self, updates: Sequence[tuple[int, Details]]) -> None:
        """Set the details of intervals (by id) that had none."""
        ...

    def snoozed(self, since: float, until: float, *, now: float, by_day: bool = False) -> list[Snoozed]:
        """Snoozed seconds inside ``[since, until)`` per instance and details (and UTC day).

        Intervals are clipped to the window; an open one ends at ``now``. The
        database makes the sums: a report reads one row per instance (per
        day), not one per interval.
        """
        ...


def _tags_text(tags: dict[str, str]) -> str:
    return json.dumps(tags, sort_keys=True, separators=(",", ":"))


def _tags_of(text: str) -> dict[str, str]:
    value = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


_OVERLAPS = "started < :until AND (ended IS NULL OR ended > :since)"
_PER_INSTANCE = f"""
SELECT provider, instance, details, sum(min(coalesce(ended, :until), :until) - max(started, :since)), NULL,
       target
FROM snoozes NOT INDEXED WHERE {_OVERLAPS}
GROUP BY provider, instance, details, target
"""  # noqa: S608 - constant text, every value bound
# Each interval cut at UTC midnights by a recursive step (most intervals cross one at most).
_PER_DAY = f"""
WITH RECURSIVE cut(provider, instance, details, target, day, start, stop) AS (
    SELECT provider, instance, details, target, CAST(max(started, :since) / :day AS INTEGER) * :day,
           max(started, :since), min(coalesce(ended, :until), :until)
    FROM snoozes WHERE {_OVERLAPS}
    UNION ALL
    SELECT provider, instance, details, target, day + :day, day + :day, stop FROM cut WHERE day + :day < stop
)
SELECT provider, instance, details, sum(min(stop, day + :day) - start), day, target
FROM cut GROUP BY day, provider, instance, details, target
"""  # noqa: S608 - constant text, every value bound


class SqliteJournalStore:
    """The journal in SQLite (WAL, busy timeout: safe for several processes at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    def _prepare(self) -> None:
        # A brand-new file's switch to WAL needs it exclusively: create it under a file lock.
        lock = self.path.with_name(self.path.name + ".lock")
        with exclusive_lock(lock, timeout=10.0, what="the savings journal"):
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # sqlite would make it 0644
            with closing(sqlite3.connect(self.path, timeout=10.0, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
        self._ready = True

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self._prepare()
        with closing(sqlite3.connect(self.path, timeout=10.0, isolation_level=None)) as conn:
            conn.execute("PRAGMA busy_timeout=10000")
            yield conn

    def _exists(self) -> bool:
        return self._ready or self.path.exists()

    @staticmethod
    def _details_id(conn: sqlite3.Connection, details: Details | None) -> int | None:
        if details is None:
            return None
        values = (details.instance_type, details.region, _tags_text(details.tags))
        conn.execute("INSERT OR IGNORE INTO details (instance_type, region, tags) VALUES (?, ?, ?)", values)
        row = conn.execute(
            "SELECT id FROM details WHERE instance_type = ? AND region = ? AND tags = ?", values
        ).fetchone()
        return int(row[0])

    def open_intervals(self, provider: str) -> list[OpenInterval]:
        if not self._exists():
            return []  # reading creates nothing
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, instance, details IS NOT NULL FROM snoozes WHERE provider = ? AND ended IS NULL",
                (provider,),
            ).fetchall()
        return [OpenInterval(int(r[0]), str(r[1]), bool(r[2])) for r in rows]

    def last_details(self, provider: str, instances: Sequence[str]) -> dict[str, Details]:
        if not instances or not self._exists():
            return {}
        marks = ",".join("?" * len(instances))
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT s.instance, d.instance_type, d.region, d.tags"  # noqa: S608 - only placeholders
                f" FROM snoozes s JOIN details d ON d.id = s.details"
                f" WHERE s.provider = ? AND s.instance IN ({marks}) ORDER BY s.id",
                (provider, *instances),
            ).fetchall()
        return {str(r[0]): Details(r[1], r[2], _tags_of(r[3])) for r in rows}  # the latest wins

    def open(
        self,
        provider: str,
        opened: Sequence[tuple[str, Details | None]],
        *,
        source: str,
        at: float,
        target: str | None = None,
    ) -> None:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO snoozes (provider, instance, details, source, target, started)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, instance) WHERE ended IS NULL DO NOTHING",
                [(provider, iid, self._details_id(conn, d), source, target, at) for iid, d in opened],
            )
            conn.execute("COMMIT")

    def close(self, provider: str, instances: Sequence[str], *, at: float, by: str) -> None:
        if not instances or not self._exists():
            return
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE snoozes SET ended = max(started, ?), ended_by = ?"
                " WHERE provider = ? AND instance = ? AND ended IS NULL",
                [(at, by, provider, iid) for iid in instances],
            )
            conn.execute("COMMIT")

    def fill(self, updates: Sequence[tuple[int, Details]]) -> None:
        if not updates:
            return
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE snoozes SET details = ? WHERE id = ? AND details IS NULL",
                [(self._details_id(conn, d), row_id) for row_id, d in updates],
            )
            conn.execute("COMMIT")

    def snoozed(self, since: float, until: float, *, now: float, by_day: bool = False) -> list[Snoozed]:
        if not self._exists():
            return []
        args = {"since": since, "until": min(until, now), "day": 86400.0}
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10.0)) as conn:
                rows = conn.execute(_PER_DAY if by_day else _PER_INSTANCE, args).fetchall()
                wanted = {r[2] for r in rows if r[2] is not None}
                details = {
                    int(r[0]): Details(r[1], r[2], _tags_of(r[3]))
                    for r in conn.execute("SELECT id, instance_type, region, tags FROM details")
                    if r[0] in wanted
                }
        except (sqlite3.Error, ValueError) as exc:  # not a database, or not ours
            raise damaged(self.path, str(exc)) from None
        return [
            Snoozed(provider, instance, details.get(ref) if ref is not None else None, seconds, day, target)
            for provider, instance, ref, seconds, day, target in rows
            if seconds > 0  # not stopped and started within the same instant
        ]

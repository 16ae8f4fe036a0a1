"""Where the savings journal is kept: the queries, behind one small interface.

:class:`JournalStore` is all the journal (:mod:`snoozebot.savings.journal`)
asks of a database; :class:`SqliteJournalStore` answers it from
``savings.sqlite3`` in the state directory. Another database (PostgreSQL, see
``docs/savings.md``) is another class with the same few queries.

One row is one *snoozed interval*: opened by a stop, closed (``ended``) by a
start or by a listing that sees the instance awake. At most one interval of an
instance is open at a time (a partial unique index says so). Times are Unix
seconds (UTC).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from snoozebot.state import exclusive_lock

__all__ = ["JOURNAL_FILE", "Details", "Interval", "JournalStore", "OpenInterval", "SqliteJournalStore"]

JOURNAL_FILE = "savings.sqlite3"
"""The journal's file name in the state directory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snoozes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    instance TEXT NOT NULL,
    instance_type TEXT,
    region TEXT,
    tags TEXT,
    source TEXT NOT NULL,
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
    """What prices an instance and groups it: its type, region and tags (None: not known yet)."""

    instance_type: str | None = None
    region: str | None = None
    tags: dict[str, str] | None = None

    @property
    def complete(self) -> bool:
        return self.instance_type is not None and self.region is not None and self.tags is not None


@dataclass(frozen=True)
class OpenInterval:
    """An interval not closed yet, and whether its details are all known."""

    id: int
    instance: str
    complete: bool


@dataclass(frozen=True)
class Interval:
    """One snoozed interval, as the report reads it."""

    id: int
    provider: str
    instance: str
    started: float
    ended: float | None
    details: Details = field(default_factory=Details)


class JournalStore(Protocol):
    """The queries of the savings journal."""

    def open_intervals(self, provider: str) -> list[OpenInterval]:
        """The provider's open intervals (one query; none when the journal does not exist)."""
        ...

    def last_details(self, provider: str, instances: Sequence[str]) -> dict[str, Details]:
        """The latest known details of each of ``instances`` (from earlier intervals)."""
        ...

    def open(self, provider: str, opened: Sequence[tuple[str, Details]], *, source: str, at: float) -> None:
        """Open an interval for each instance that has no open one."""
        ...

    def close(self, provider: str, instances: Sequence[str], *, at: float, by: str) -> None:
        """Close the open intervals of ``instances``."""
        ...

    def fill(self, updates: Sequence[tuple[int, Details]]) -> None:
        """Set the details of open intervals (by id) that lacked them."""
        ...

    def overlapping(self, since: float, until: float) -> Iterator[Interval]:
        """Every interval that overlaps ``[since, until)``, in id order."""
        ...


def _tags_text(tags: dict[str, str] | None) -> str | None:
    return None if tags is None else json.dumps(tags, sort_keys=True, separators=(",", ":"))


def _tags_of(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    value = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None


class SqliteJournalStore:
    """The journal in SQLite (WAL, busy timeout: safe for several processes at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    def _prepare(self) -> None:
        # A brand-new file's switch to WAL needs it exclusively: create it under a file lock.
        lock = self.path.with_name(self.path.name + ".lock")
        with (
            exclusive_lock(lock, timeout=10.0, what="the savings journal"),
            closing(sqlite3.connect(self.path, timeout=10.0, isolation_level=None)) as conn,
        ):
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

    def open_intervals(self, provider: str) -> list[OpenInterval]:
        if not self._ready and not self.path.exists():
            return []  # reading creates nothing
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, instance, instance_type IS NOT NULL AND region IS NOT NULL AND tags IS NOT NULL"
                " FROM snoozes WHERE provider = ? AND ended IS NULL",
                (provider,),
            ).fetchall()
        return [OpenInterval(int(r[0]), str(r[1]), bool(r[2])) for r in rows]

    def last_details(self, provider: str, instances: Sequence[str]) -> dict[str, Details]:
        if not instances or (not self._ready and not self.path.exists()):
            return {}
        marks = ",".join("?" * len(instances))
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT instance, instance_type, region, tags FROM snoozes"  # noqa: S608 - only placeholders
                f" WHERE provider = ? AND instance IN ({marks}) AND instance_type IS NOT NULL ORDER BY id",
                (provider, *instances),
            ).fetchall()
        return {str(r[0]): Details(r[1], r[2], _tags_of(r[3])) for r in rows}  # the latest wins

    def open(self, provider: str, opened: Sequence[tuple[str, Details]], *, source: str, at: float) -> None:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO snoozes (provider, instance, instance_type, region, tags, source, started)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (provider, instance) WHERE ended IS NULL DO NOTHING",
                [
                    (provider, iid, d.instance_type, d.region, _tags_text(d.tags), source, at)
                    for iid, d in opened
                ],
            )
            conn.execute("COMMIT")

    def close(self, provider: str, instances: Sequence[str], *, at: float, by: str) -> None:
        if not instances or (not self._ready and not self.path.exists()):
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
                "UPDATE snoozes SET instance_type = coalesce(instance_type, ?), region = coalesce(region, ?),"
                " tags = coalesce(tags, ?) WHERE id = ?",
                [(d.instance_type, d.region, _tags_text(d.tags), row_id) for row_id, d in updates],
            )
            conn.execute("COMMIT")

    def overlapping(self, since: float, until: float) -> Iterator[Interval]:
        if not self._ready and not self.path.exists():
            return
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, provider, instance, started, ended, instance_type, region, tags FROM snoozes"
                " WHERE started < ? AND (ended IS NULL OR ended > ?) ORDER BY id",
                (until, since),
            )
            tags_cache: dict[str | None, dict[str, str] | None] = {}
            for r in rows:
                text = r[7]
                if text not in tags_cache:  # fleets share few tag sets: parse each once
                    tags_cache[text] = _tags_of(text)
                yield Interval(int(r[0]), r[1], r[2], r[3], r[4], Details(r[5], r[6], tags_cache[text]))

"""Where the savings journal is kept: its queries, over the state store.

:class:`JournalStore` is all the journal (:mod:`snoozebot.savings.journal`)
and the report (:mod:`snoozebot.savings.report`) ask of a database;
:class:`StateJournalStore` answers it from the state store
(:mod:`snoozebot.store`): the state directory's ``audit.sqlite3``, or the
PostgreSQL database every machine shares (docs/shared-state.md), so every
machine's stops and starts add to one journal.

Two tables (schema version 4, :mod:`snoozebot.store.schema`).
``savings_intervals``: one row per *snoozed interval*, opened by a stop,
closed (``ended``) by a start or by a listing that sees the instance awake; at
most one interval of an instance is open at a time (a partial unique index
says so). ``savings_details``: each distinct (type, region, tags) once, which
an interval points to (NULL until known), so the report's sums group by
integers. Times are Unix seconds (UTC). The columns keep the names they had
in ``savings.sqlite3``, the journal's file before, which the embedded store
imports once.

The database clips and sums the intervals (:meth:`JournalStore.snoozed`):
``benchmarks/bench_savings.py``'s 60,000 intervals make a report in 49-119 ms
on SQLite (by the machine's load) and 23-39 ms on PostgreSQL on loopback,
against 1.6 s when every interval was read into Python (see ``docs/savings.md``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from snoozebot.errors import StateDamaged
from snoozebot.store import Session, Store

__all__ = ["Details", "JournalStore", "OpenInterval", "Snoozed", "StateJournalStore"]

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


def _key(details: Details) -> tuple[str, str, str]:
    """A row of ``savings_details``: the tags as canonical JSON."""
    tags = json.dumps(details.tags, sort_keys=True, separators=(",", ":"))
    return (details.instance_type, details.region, tags)


def _tags_of(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        reason = f"the savings journal holds tags that are no JSON: {text!r}"
        raise StateDamaged("savings_details", reason) from None
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


_DAY = "86400.0"
_BOUNDS = "bounds (since, until) AS (SELECT CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION))"
_OVERLAPS = "started < until AND (ended IS NULL OR ended > since)"
_BATCH = 300
"""Details looked up per statement (three parameters each)."""
_NOT_RECORDED = "the savings journal was not changed"
Row = tuple[Any, ...]
_NO_ROWS: list[Row] = []


class _Sums(NamedTuple):
    """The two sums of :meth:`JournalStore.snoozed` in one dialect: queries that cannot be written once."""

    per_instance: str
    per_day: str


@functools.cache
def _sums(dialect: str) -> _Sums:
    """The window is bound once (``bounds``) and every interval clipped to it.

    SQLite's two-argument ``min``/``max`` are scalar and its ``CAST`` to
    integer truncates (the floor, for times after 1970); PostgreSQL has
    ``LEAST``/``GREATEST``, and its ``CAST`` rounds, so the day cut is
    ``floor()``. ``NOT INDEXED``: a window holds most intervals, which SQLite
    reads faster by a scan than through the ``started`` index.
    """
    if dialect == "postgresql":
        least, greatest, scan = "LEAST", "GREATEST", ""
        day_of = "floor(GREATEST(started, since) / {day}) * {day}"
    else:
        least, greatest, scan = "min", "max", " NOT INDEXED"
        day_of = "CAST(max(started, since) / {day} AS INTEGER) * {day}"
    clipped = f"{least}(coalesce(ended, until), until)"
    per_instance = f"""
WITH {_BOUNDS}
SELECT provider, instance, details, sum({clipped} - {greatest}(started, since)), NULL, target
FROM savings_intervals{scan}, bounds WHERE {_OVERLAPS}
GROUP BY provider, instance, details, target
"""  # noqa: S608 - constant text, every value bound
    # Each interval cut at UTC midnights by a recursive step (most intervals cross one at most).
    per_day = f"""
WITH RECURSIVE {_BOUNDS},
cut (provider, instance, details, target, day, start, stop) AS (
    SELECT provider, instance, details, target, {day_of.format(day=_DAY)},
           {greatest}(started, since), {clipped}
    FROM savings_intervals, bounds WHERE {_OVERLAPS}
    UNION ALL
    SELECT provider, instance, details, target, day + {_DAY}, day + {_DAY}, stop FROM cut
    WHERE day + {_DAY} < stop
)
SELECT provider, instance, details, sum({least}(stop, day + {_DAY}) - start), day, target
FROM cut GROUP BY day, provider, instance, details, target
"""  # noqa: S608 - constant text, every value bound
    return _Sums(per_instance, per_day)


def _detail_ids(db: Session, wanted: Iterable[Details | None]) -> dict[tuple[str, str, str], int]:
    """The ids of the ``wanted`` details, the new ones added: a query per batch when all are known."""
    keys = {_key(d) for d in wanted if d is not None}
    ids = _known_ids(db, keys)
    missing = sorted(keys - ids.keys())  # one order on every machine: no deadlock between two
    if missing:
        db.execute_many(
            "INSERT INTO savings_details (instance_type, region, tags) VALUES (?, ?, ?)"
            " ON CONFLICT (instance_type, region, tags) DO NOTHING",
            missing,
        )
        ids.update(_known_ids(db, set(missing)))
    return ids


def _known_ids(db: Session, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    ordered = sorted(keys)
    ids = {}
    for first in range(0, len(ordered), _BATCH):
        batch = ordered[first : first + _BATCH]
        rows = db.execute(
            "SELECT id, instance_type, region, tags FROM savings_details"  # noqa: S608 - only placeholders
            f" WHERE (instance_type, region, tags) IN (VALUES {', '.join(['(?, ?, ?)'] * len(batch))})",
            [value for key in batch for value in key],
        )
        ids.update({(str(r[1]), str(r[2]), str(r[3])): int(r[0]) for r in rows})
    return ids


class StateJournalStore:
    """The journal in the state store's ``savings_*`` tables (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open_intervals(self, provider: str) -> list[OpenInterval]:
        def query(db: Session) -> list[Row]:
            return db.execute(
                "SELECT id, instance, details IS NOT NULL FROM savings_intervals"
                " WHERE provider = ? AND ended IS NULL",
                (provider,),
            )

        rows = self.store.read(query, empty=_NO_ROWS)
        return [OpenInterval(int(r[0]), str(r[1]), bool(r[2])) for r in rows]

    def last_details(self, provider: str, instances: Sequence[str]) -> dict[str, Details]:
        if not instances:
            return {}

        def query(db: Session) -> list[Row]:
            marks = ",".join("?" * len(instances))
            return db.execute(
                "SELECT s.instance, d.instance_type, d.region, d.tags"  # noqa: S608 - only placeholders
                " FROM savings_intervals s JOIN savings_details d ON d.id = s.details"
                f" WHERE s.provider = ? AND s.instance IN ({marks}) ORDER BY s.id",
                (provider, *instances),
            )

        rows = self.store.read(query, empty=_NO_ROWS)  # the latest wins:
        return {str(r[0]): Details(str(r[1]), str(r[2]), _tags_of(str(r[3]))) for r in rows}

    def open(
        self,
        provider: str,
        opened: Sequence[tuple[str, Details | None]],
        *,
        source: str,
        at: float,
        target: str | None = None,
    ) -> None:
        if not opened:
            return
        with self.store.session(consequence=_NOT_RECORDED) as db, db.transaction():
            ids = _detail_ids(db, (d for _, d in opened))
            db.execute_many(
                "INSERT INTO savings_intervals (provider, instance, details, source, target, started)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, instance) WHERE ended IS NULL DO NOTHING",
                [(provider, iid, ids[_key(d)] if d else None, source, target, at) for iid, d in opened],
            )

    def close(self, provider: str, instances: Sequence[str], *, at: float, by: str) -> None:
        if not instances:
            return
        with self.store.session(consequence=_NOT_RECORDED) as db, db.transaction():
            db.execute_many(
                "UPDATE savings_intervals SET ended = CASE WHEN started > ? THEN started ELSE ? END,"
                " ended_by = ? WHERE provider = ? AND instance = ? AND ended IS NULL",
                [(at, at, by, provider, iid) for iid in instances],
            )

    def fill(self, updates: Sequence[tuple[int, Details]]) -> None:
        if not updates:
            return
        with self.store.session(consequence=_NOT_RECORDED) as db, db.transaction():
            ids = _detail_ids(db, (d for _, d in updates))
            db.execute_many(
                "UPDATE savings_intervals SET details = ? WHERE id = ? AND details IS NULL",
                [(ids[_key(d)], row_id) for row_id, d in updates],
            )

    def snoozed(self, since: float, until: float, *, now: float, by_day: bool = False) -> list[Snoozed]:
        def query(db: Session) -> list[Snoozed]:
            sums = _sums(db.dialect)
            rows = db.execute(sums.per_day if by_day else sums.per_instance, (since, min(until, now)))
            wanted = {r[2] for r in rows if r[2] is not None}
            details = {
                int(r[0]): Details(str(r[1]), str(r[2]), _tags_of(str(r[3])))
                for r in db.execute("SELECT id, instance_type, region, tags FROM savings_details")
                if r[0] in wanted
            }
            return [
                Snoozed(provider, instance, None if ref is None else details.get(ref), seconds, day, target)
                for provider, instance, ref, seconds, day, target in rows
                if seconds > 0  # not stopped and started within the same instant
            ]

        nothing: list[Snoozed] = []
        return self.store.read(query, empty=nothing)

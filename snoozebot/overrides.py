"""Overrides: stored exceptions to the schedules (docs/schedules.md, "Overrides").

Two kinds, each for one instance of one provider:

- a *snooze*: keep the instance out of schedule and idle stops until a time
  (``snoozebot instance snooze``, ``POST .../snooze``; audit source ``snooze``);
- a *move*: one stop boundary postponed to a later time, or skipped
  (postpone links, docs/notifications.md; audit source ``postpone``).

:class:`InstanceOverrides` is the pure view one decision consults;
:class:`OverrideStore` holds every query, over SQLite in the state directory
(``overrides.sqlite3``, ``0600``), so that another backend can offer the same
methods. The store also keeps what notifications must remember: which stop
boundaries were warned about, which postpone tokens were used, and the secret
that signs them.

An override is shown while it lies ahead and is kept one day after it passed,
so that a run whose window still holds it (cron was down) honours it.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from snoozebot.errors import LockTimeout, SnoozebotError
from snoozebot.schedule.boundaries import Boundary, boundaries_between
from snoozebot.schedule.grammar import Schedule
from snoozebot.state import damaged, exclusive_lock, unwritable

__all__ = [
    "KEEP_AFTER",
    "OVERRIDES_FILE",
    "InstanceOverrides",
    "OverrideMap",
    "OverrideRow",
    "OverrideStore",
    "parse_until",
]

OVERRIDES_FILE = "overrides.sqlite3"
KEEP_AFTER = dt.timedelta(hours=24)
"""How long an override is kept once passed (a late run's window may still hold it)."""

_TIMEOUT = 10.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS snoozes (
    provider TEXT NOT NULL, instance TEXT NOT NULL, until TEXT NOT NULL,
    actor TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (provider, instance)
);
CREATE TABLE IF NOT EXISTS moves (
    provider TEXT NOT NULL, instance TEXT NOT NULL, boundary TEXT NOT NULL, moved_to TEXT,
    actor TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (provider, instance, boundary)
);
CREATE TABLE IF NOT EXISTS warned (
    provider TEXT NOT NULL, instance TEXT NOT NULL, boundary TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (provider, instance, boundary)
);
CREATE TABLE IF NOT EXISTS used_tokens (token TEXT PRIMARY KEY, used TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _text(moment: dt.datetime) -> str:
    """A UTC instant as fixed-width text, so that text order is time order."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@dataclass(frozen=True)
class InstanceOverrides:
    """One instance's overrides: a snooze-until, and moved (or skipped, None) stop boundaries."""

    snooze_until: dt.datetime | None = None
    moves: Mapping[dt.datetime, dt.datetime | None] = field(default_factory=dict)

    def snoozed(self, now: dt.datetime) -> bool:
        return self.snooze_until is not None and now < self.snooze_until

    def boundaries(self, schedule: Schedule, after: dt.datetime, until: dt.datetime) -> list[Boundary]:
        """The schedule's boundaries in ``(after, until]`` with the moves applied, oldest first."""
        kept = boundaries_between(schedule, after, until)
        found = [b for b in kept if b.action != "stop" or b.at not in self.moves]
        found += [Boundary(to, "stop") for to in self.moves.values() if to and after < to <= until]
        return sorted(set(found))

    def latest(self, schedule: Schedule, after: dt.datetime, until: dt.datetime) -> Boundary | None:
        """The boundary that decides a run over ``(after, until]``, the moves applied."""
        found = self.boundaries(schedule, after, until)
        return found[-1] if found else None


OverrideMap = Mapping[tuple[str, str], InstanceOverrides]
"""Overrides by ``(provider, instance id)``."""


@dataclass(frozen=True)
class OverrideRow:
    """One stored override, as ``schedule show``, ``schedule explain`` and the web UI list it."""

    provider: str
    instance: str
    kind: Literal["snooze", "postpone", "skip"]
    boundary: dt.datetime | None
    until: dt.datetime | None
    actor: str

    def to_dict(self) -> dict[str, str | None]:
        """``{"provider", "instance", "kind", "boundary", "until", "actor"}`` (UTC times)."""
        return {
            "provider": self.provider,
            "instance": self.instance,
            "kind": self.kind,
            "boundary": _text(self.boundary) if self.boundary else None,
            "until": _text(self.until) if self.until else None,
            "actor": self.actor,
        }

    def describe(self, zone: dt.tzinfo = dt.UTC) -> str:
        """One line: what the override does."""
        def at(moment: dt.datetime | None) -> str:
            return moment.astimezone(zone).isoformat(timespec="minutes") if moment else "-"

        if self.kind == "snooze":
            return f"snoozed until {at(self.until)} (by {self.actor})"
        if self.kind == "skip":
            return f"stop at {at(self.boundary)} skipped (by {self.actor})"
        return f"stop at {at(self.boundary)} postponed to {at(self.until)} (by {self.actor})"


class OverrideStore:
    """Every query on overrides, warned boundaries, used tokens and the signing secret."""

    def __init__(self, path: Path, *, lock_timeout: float = _TIMEOUT) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self._ready = False

    @classmethod
    def in_directory(cls, state_directory: Path, *, lock_timeout: float = _TIMEOUT) -> OverrideStore:
        """The store of a state directory."""
        return cls(state_directory / OVERRIDES_FILE, lock_timeout=lock_timeout)

    def _prepare(self) -> None:
        lock = self.path.with_name(self.path.name + ".lock")
        with exclusive_lock(lock, timeout=self.lock_timeout, what="the overrides"):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            with closing(sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
        self._ready = True

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction; a database failure becomes one line."""
        try:
            if not self._ready:
                self._prepare()
            with closing(sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
        except OSError as exc:
            raise unwritable(self.path, exc) from None
        except sqlite3.Error as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: sqlite3.Error) -> SnoozebotError:
        primary = getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_ERROR) & 0xFF
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return LockTimeout(f"another process holds {self.path}; gave up after {self.lock_timeout:g}s")
        if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL,
                       sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PERM):
            return unwritable(self.path, str(exc))
        return damaged(self.path, str(exc))

    # -- snoozes --------------------------------------------------------------

    def snooze(self, provider: str, instance: str, until: dt.datetime, *, actor: str) -> None:
        """Keep ``instance`` out of schedule and idle stops until ``until`` (replacing an older snooze)."""
        with self._connect() as conn:
            self._prune(conn)
            conn.execute(
                "INSERT OR REPLACE INTO snoozes VALUES (?, ?, ?, ?, ?)",
                (provider, instance, _text(until), actor, _text(dt.datetime.now(dt.UTC))),
            )

    def clear_snooze(self, provider: str, instance: str) -> bool:
        """Remove the instance's snooze; whether it had one."""
        with self._connect() as conn:
            cur = conn.execute(
                "DELETE FROM snoozes WHERE provider = ? AND instance = ?", (provider, instance)
            )
            return cur.rowcount > 0

    # -- moved boundaries -----------------------------------------------------

    def move(
        self, provider: str, instance: str, boundary: dt.datetime, moved_to: dt.datetime | None, *, actor: str
    ) -> None:
        """Move the stop boundary at ``boundary`` to ``moved_to`` (None: skip it).

        A boundary that is itself a moved one (postponed twice) moves the original's entry.
        """
        now = _text(dt.datetime.now(dt.UTC))
        target = _text(moved_to) if moved_to else None
        with self._connect() as conn:
            self._prune(conn)
            cur = conn.execute(
                "UPDATE moves SET moved_to = ?, actor = ?, created = ?"
                " WHERE provider = ? AND instance = ? AND moved_to = ?",
                (target, actor, now, provider, instance, _text(boundary)),
            )
            if cur.rowcount == 0:
                conn.execute(
                    "INSERT OR REPLACE INTO moves VALUES (?, ?, ?, ?, ?, ?)",
                    (provider, instance, _text(boundary), target, actor, now),
                )

    # -- reading --------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A connection that writes nothing (None before the first override): read-only directories work."""
        if not self.path.exists():
            yield None
            return
        with closing(self._read_connection()) as conn:
            yield conn

    def _read_connection(self) -> sqlite3.Connection:
        base = self.path.resolve().as_uri()
        conn = sqlite3.connect(f"{base}?mode=ro", uri=True, timeout=self.lock_timeout, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master")  # a read-only directory fails here (WAL index)
            return conn
        except sqlite3.OperationalError:
            conn.close()
        return sqlite3.connect(f"{base}?immutable=1", uri=True, isolation_level=None)

    @staticmethod
    def _prune(conn: sqlite3.Connection) -> None:
        """Delete what passed more than KEEP_AFTER ago (by the real clock: a rehearsal deletes nothing)."""
        kept_since = (_text(dt.datetime.now(dt.UTC) - KEEP_AFTER),)
        conn.execute("DELETE FROM snoozes WHERE until < ?", kept_since)
        conn.execute("DELETE FROM moves WHERE max(boundary, coalesce(moved_to, boundary)) < ?", kept_since)
        conn.execute("DELETE FROM warned WHERE boundary < ?", kept_since)

    def rows(self, now: dt.datetime, *, include_passed: bool = False) -> list[OverrideRow]:
        """Every override still ahead of ``now`` (with ``include_passed``: every one kept)."""
        try:
            with self._reading() as conn:
                if conn is None:
                    return []
                snoozes = conn.execute("SELECT provider, instance, until, actor FROM snoozes").fetchall()
                moves = conn.execute(
                    "SELECT provider, instance, boundary, moved_to, actor FROM moves"
                ).fetchall()
        except sqlite3.Error as exc:
            raise self._failure(exc) from None
        found = [OverrideRow(p, i, "snooze", None, _time(u), a) for p, i, u, a in snoozes]
        found += [
            OverrideRow(p, i, "postpone" if to else "skip", _time(b), _time(to) if to else None, a)
            for p, i, b, to, a in moves
        ]
        if not include_passed:
            found = [r for r in found if max(t for t in (r.boundary, r.until) if t is not None) > now]
        return sorted(found, key=lambda r: (r.provider, r.instance, r.boundary or r.until or now))

    def for_instances(self, now: dt.datetime) -> dict[tuple[str, str], InstanceOverrides]:
        """What the decisions of a run at ``now`` consult, by ``(provider, instance)``."""
        snoozes: dict[tuple[str, str], dt.datetime] = {}
        moves: dict[tuple[str, str], dict[dt.datetime, dt.datetime | None]] = {}
        for row in self.rows(now, include_passed=True):
            key = (row.provider, row.instance)
            if row.kind == "snooze" and row.until is not None:
                snoozes[key] = row.until
            elif row.boundary is not None:
                moves.setdefault(key, {})[row.boundary] = row.until
        return {key: InstanceOverrides(snoozes.get(key), moves.get(key, {})) for key in {*snoozes, *moves}}

    # -- what notifications remember ------------------------------------------

    def mark_warned_many(
        self, boundaries: Sequence[tuple[str, str, dt.datetime]]
    ) -> set[tuple[str, str, dt.datetime]]:
        """Remember warnings for these ``(provider, instance, stop boundary)``; the ones not given before."""
        fresh: set[tuple[str, str, dt.datetime]] = set()
        if not boundaries:
            return fresh
        now = _text(dt.datetime.now(dt.UTC))
        with self._connect() as conn:  # one transaction for the whole run
            self._prune(conn)
            for provider, instance, boundary in boundaries:
                row = (provider, instance, _text(boundary), now)
                cur = conn.execute("INSERT OR IGNORE INTO warned VALUES (?, ?, ?, ?)", row)
                if cur.rowcount > 0:
                    fresh.add((provider, instance, boundary))
        return fresh

    def use_token(self, token_id: str) -> bool:
        """Spend a postpone token; False when it was spent before."""
        with self._connect() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO used_tokens VALUES (?, ?)", (token_id, _text(dt.datetime.now(dt.UTC)))
            )
            return cur.rowcount > 0

    def token_used(self, token_id: str) -> bool:
        try:
            with self._reading() as conn:
                query = "SELECT 1 FROM used_tokens WHERE token = ?"
                found = conn.execute(query, (token_id,)).fetchone() if conn else None
        except sqlite3.Error as exc:
            raise self._failure(exc) from None
        return found is not None

    def secret(self, name: str = "postpone") -> bytes:
        """The named signing secret, created by whichever process needs it first."""
        with self._connect() as conn:
            conn.execute("INSERT OR IGNORE INTO secrets VALUES (?, ?)", (name, secrets.token_hex(32)))
            (value,) = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes.fromhex(value)


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_until(value: str, *, now: dt.datetime) -> dt.datetime:
    """``--until WHEN``: an ISO 8601 date-time with an offset or ``Z``, or a duration from ``now``
    (``90m``, ``2h``, ``3d``); raises ValueError naming the accepted forms."""
    text = value.strip()
    unit = text[-1:].lower()
    if unit in _DURATION and text[:-1].isdigit():
        return now + dt.timedelta(seconds=int(text[:-1]) * _DURATION[unit])
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(
            f"bad time {value!r}: expected an ISO 8601 date-time with an offset or Z"
            " (2026-11-24T08:00:00+01:00) or a duration (90m, 2h, 3d)"
        )
    return parsed.astimezone(dt.UTC)

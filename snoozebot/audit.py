"""The audit log: every start and stop attempt, in SQLite in the state directory.

An attempt is written *before* the call (result ``pending``) and completed
after it, so a run that is killed still leaves its trace. Safe for several
processes at once (WAL journal, busy timeout). The file is created ``0600``.

Failures are one line each (docs/user-guide.md, "The state directory"): a
database that cannot be read is StateDamaged and is never written; one that
cannot be written (read-only or full directory) is StateUnwritable, raised by
:meth:`AuditLog.begin` before any call is made; one held by another process
past ``lock_timeout`` is LockTimeout. :meth:`AuditLog.entries` still reads a
read-only or full directory.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from snoozebot.errors import LockTimeout, SnoozebotError, StateUnwritable
from snoozebot.results import ActionResult
from snoozebot.state import damaged, exclusive_lock, unwritable

__all__ = ["AUDIT_FILE", "LOCK_TIMEOUT", "AuditEntry", "AuditLog"]

AUDIT_FILE = "audit.sqlite3"
"""The audit log's file name in the state directory."""

LOCK_TIMEOUT = 10.0
"""Seconds to wait for another process's hold on the database, unless told otherwise."""

_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_UNWRITABLE = (
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_PERM,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    finished TEXT,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    instance TEXT NOT NULL,
    action TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    result TEXT NOT NULL,
    state TEXT,
    error_code TEXT,
    error_message TEXT
);
CREATE INDEX IF NOT EXISTS attempts_time ON attempts (time);
"""
_ADDED_COLUMNS = {"target": "TEXT", "scope": "TEXT"}
"""Columns added after the first release; an older log gains them when opened."""
_COLUMNS = (
    "id, time, finished, actor, source, provider, instance, action, dry_run, result,"
    " state, error_code, error_message, target, scope"
)


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    time: str
    finished: str | None
    actor: str
    source: str
    provider: str
    instance: str
    action: str
    dry_run: bool
    result: str
    state: str | None
    error_code: str | None
    error_message: str | None
    target: str | None = None
    scope: str | None = None

    def scope_labels(self) -> dict[str, str]:
        """The scope the attempt was made in (``{}`` for a single scope)."""
        try:
            value = json.loads(self.scope) if self.scope else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "finished": self.finished,
            "actor": self.actor,
            "source": self.source,
            "provider": self.provider,
            "instance": self.instance,
            "action": self.action,
            "dry_run": self.dry_run,
            "result": self.result,
            "state": self.state,
            "error": ({"code": self.error_code, "message": self.error_message} if self.error_code else None),
            "target": self.target,
            "scope": self.scope_labels(),
        }


def _error_columns(result: ActionResult) -> tuple[str | None, str | None]:
    failure = result.failure
    return (failure.code, failure.message) if failure is not None else (None, None)


def _disk_full(path: Path) -> bool:
    """True when the file system of ``path`` has no space left (SQLite says only "disk I/O error")."""
    try:
        return shutil.disk_usage(path.parent).free == 0
    except OSError:
        return False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditLog:
    """Append-and-complete access to the audit database (``AUDIT_FILE``)."""

    def __init__(self, path: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self._ready = False

    def _failure(self, exc: sqlite3.Error | OSError, *, consequence: str) -> SnoozebotError:
        """The one-line error for a failed database operation."""
        if isinstance(exc, OSError):
            return unwritable(self.path, exc, consequence=consequence)
        primary = getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_ERROR) & 0xFF
        if primary in _BUSY:
            return LockTimeout(
                f"another process holds the audit log ({self.path}); gave up after {self.lock_timeout:g}s;"
                f" {consequence}"
            )
        if primary in _UNWRITABLE:
            reason = "No space left on device" if _disk_full(self.path) else str(exc)
            return unwritable(self.path, reason, consequence=consequence)
        return damaged(self.path, str(exc))

    def _prepare(self) -> None:
        """Create the file (``0600``), WAL journal and schema once, under a file lock.

        Switching a new database to WAL needs it exclusively; several processes
        opening a brand-new log at once would otherwise see "database is locked".
        """
        lock = self.path.with_name(self.path.name + ".lock")
        with exclusive_lock(lock, timeout=self.lock_timeout, what="the audit log"):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # sqlite would use 0644
            try:
                if os.fstat(fd).st_mode & 0o077:  # left open by an older release
                    os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            with closing(sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                present = {row[1] for row in conn.execute("PRAGMA table_info(attempts)")}
                for column, kind in _ADDED_COLUMNS.items():
                    if column not in present:
                        conn.execute(f"ALTER TABLE attempts ADD COLUMN {column} {kind}")
        self._ready = True

    @contextmanager
    def _connect(self, *, consequence: str) -> Iterator[sqlite3.Connection]:
        """A connection; a failure in it becomes one line, ending with ``consequence``."""
        try:
            if not self._ready:
                self._prepare()
            with closing(sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)) as conn:
                conn.execute(f"PRAGMA busy_timeout={int(self.lock_timeout * 1000)}")
                yield conn
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc, consequence=consequence) from None

    @contextmanager
    def _read_only(self) -> Iterator[sqlite3.Connection]:
        """A connection that writes nothing, not even the WAL index: for a read-only or full directory."""
        uri = f"{self.path.resolve().as_uri()}?immutable=1"
        with closing(sqlite3.connect(uri, uri=True, timeout=self.lock_timeout, isolation_level=None)) as conn:
            yield conn

    def begin(
        self,
        *,
        actor: str,
        source: str,
        provider: str,
        action: str,
        instances: Sequence[str],
        dry_run: bool,
        target: str | None = None,
        scope: str | None = None,
    ) -> list[int]:
        """Record pending attempts, one per instance, in one transaction; returns their ids."""
        now = _now()
        with self._connect(consequence=f"nothing was done: no {action} was attempted") as conn:
            conn.execute("BEGIN IMMEDIATE")
            ids = []
            for instance in instances:
                cur = conn.execute(
                    "INSERT INTO attempts (time, actor, source, provider, instance, action, dry_run, result,"
                    " target, scope) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (now, actor, source, provider, instance, action, int(dry_run), target, scope),
                )
                ids.append(int(cur.lastrowid or 0))
            conn.execute("COMMIT")
        return ids

    def note(self, *, actor: str, source: str, provider: str, action: str, instance: str = "") -> None:
        """Record something done that is no instance action (e.g. a schedule record reset), finished."""
        now = _now()
        with self._connect(consequence=f"the {action} was done but is not in the audit log") as conn:
            conn.execute(
                "INSERT INTO attempts"
                " (time, finished, actor, source, provider, instance, action, dry_run, result)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'ok')",
                (now, now, actor, source, provider, instance, action),
            )

    @classmethod
    def in_directory(cls, state_directory: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> AuditLog:
        """The audit log of a state directory."""
        return cls(state_directory / AUDIT_FILE, lock_timeout=lock_timeout)

    def finish(self, outcomes: Iterable[tuple[int, ActionResult]], *, result: str | None = None) -> None:
        """Complete pending attempts with their results, in one transaction.

        ``result`` overrides the ``ok``/``error`` column, e.g. ``unknown`` when
        the plugin's reply did not tell whether it acted.
        """
        now = _now()
        left_pending = "the call was made, but its attempts stay 'pending' in the audit log"
        with self._connect(consequence=left_pending) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE attempts SET finished = ?, result = ?, state = ?, error_code = ?, error_message = ?"
                " WHERE id = ?",
                [
                    (now, result or ("ok" if r.ok else "error"), r.state, *_error_columns(r), row_id)
                    for row_id, r in outcomes
                ],
            )
            conn.execute("COMMIT")

    def entries(
        self,
        *,
        limit: int = 50,
        provider: str | None = None,
        instance: str | None = None,
        action: str | None = None,
        result: str | None = None,
        target: str | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first, optionally filtered by column equality.

        Reads a read-only or full state directory too (through an immutable
        connection); a damaged database is StateDamaged.
        """
        where, args = [], []
        for column, value in (
            ("provider", provider),
            ("instance", instance),
            ("action", action),
            ("result", result),
            ("target", target),
        ):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        if not self.path.exists():
            return []
        # fixed column names; every value is bound
        query = f"SELECT {_COLUMNS} FROM attempts {clause} ORDER BY id DESC LIMIT ?"  # noqa: S608
        params = [*args, limit]
        try:
            with self._connect(consequence="nothing was changed") as conn:
                rows = conn.execute(query, params).fetchall()
        except StateUnwritable:  # a read-only or full directory: read without writing anything
            try:
                with self._read_only() as conn:
                    rows = conn.execute(query, params).fetchall()
            except sqlite3.Error as exc:
                raise damaged(self.path, str(exc)) from None
        return [
            AuditEntry(
                *(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])),
                *(r[9], r[10], r[11], r[12], r[13], r[14]),
            )
            for r in rows
        ]

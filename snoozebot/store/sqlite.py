"""The embedded store: one SQLite file in the state directory (the default).

Safe for several processes at once (WAL journal, busy timeout); the file is
created ``0600`` and migrated under a file lock, since switching a new
database to WAL needs it exclusively. Failures are one line each
(docs/user-guide.md, "The state directory"): a file that cannot be read is
StateDamaged and is never written; one that cannot be written (read-only or
full directory) is StateUnwritable; one held by another process past the
lock timeout is LockTimeout. :meth:`SqliteStore.read` still reads a
read-only or full directory (an older schema, and legacy files not imported
yet, through a copy in memory).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from snoozebot.errors import LockTimeout, SnoozebotError, StateUnwritable
from snoozebot.state import damaged, exclusive_lock, unwritable
from snoozebot.store.base import Leadership, Session
from snoozebot.store.schema import (
    ADDED_COLUMNS,
    LATEST,
    LEGACY_FILES,
    MIGRATIONS,
    LegacyFile,
    current,
    migrate,
)

__all__ = ["STATE_FILE", "SqliteStore"]

STATE_FILE = "audit.sqlite3"
"""The database's file name in the state directory (it began as the audit log)."""

T = TypeVar("T")
_PRIMARY_KEY = "INTEGER PRIMARY KEY AUTOINCREMENT"
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_UNWRITABLE = (
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_PERM,
)


class _Session:
    """A SQLite connection in autocommit mode; :meth:`transaction` takes the write lock at once."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._conn.execute(sql, params).lastrowid or 0)

    def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        return [self.insert(sql, row) for row in rows]  # in-process: no round trips to save

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _columns(session: Session) -> set[str]:
    return {str(row[1]) for row in session.execute("PRAGMA table_info(attempts)")}


def _legacy_present(directory: Path) -> bool:
    return any((directory / legacy.name).exists() for legacy in LEGACY_FILES)


def _import_legacy(conn: sqlite3.Connection, directory: Path, *, rename: bool = True) -> None:
    """Copy the rows of each legacy file still in ``directory`` into the store, then rename the file.

    Rows are copied with their keys (``INSERT OR IGNORE``), so an import
    interrupted before the rename is repeated without duplicates. A legacy
    file that is no database is StateDamaged, naming it. ``rename`` False
    reads the files as they are (immutable) and leaves them: a read-only directory.
    """
    for legacy in LEGACY_FILES:
        path = directory / legacy.name
        if not path.exists():
            continue
        try:
            _import_file(conn, f"{path.resolve().as_uri()}?immutable=1" if not rename else str(path), legacy)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _DAMAGED:
                raise damaged(path, str(exc)) from None
            raise
        if rename:
            path.rename(path.with_name(path.name + ".imported"))


def _import_file(conn: sqlite3.Connection, name: str, legacy: LegacyFile) -> None:
    conn.execute("ATTACH DATABASE ? AS legacy", (name,))
    try:
        conn.execute("BEGIN IMMEDIATE")
        for old, new in legacy.tables.items():
            had = {row[1] for row in conn.execute(f"PRAGMA legacy.table_info({old})")}
            both = [row[1] for row in conn.execute(f"PRAGMA main.table_info({new})") if row[1] in had]
            if both:
                columns = ", ".join(both)
                copy = f"INSERT OR IGNORE INTO main.{new} ({columns}) SELECT {columns} FROM legacy.{old}"  # noqa: S608
                conn.execute(copy)  # the names come from LEGACY_FILES and the schema, never from input
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("DETACH DATABASE legacy")


_CREATED = re.compile(r"\s*CREATE TABLE IF NOT EXISTS (\w+)")


def _shadow_missing(conn: sqlite3.Connection) -> None:
    """Let the queries of this release read a file of an older schema that cannot be migrated.

    On a read-only or full directory: each table the file lacks becomes an
    empty temporary table, and the columns ``attempts`` lacks are NULLs of a
    temporary view (SQLite looks in ``temp`` before ``main``).
    """
    present = {str(r[0]) for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    for statements in MIGRATIONS:
        for statement in statements:
            created = _CREATED.match(statement)
            if created and created.group(1) not in present:
                temporary = statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1)
                conn.execute(temporary.format(id=_PRIMARY_KEY))
    missing = ADDED_COLUMNS.keys() - _columns(_Session(conn)) if "attempts" in present else set()
    if missing:
        nulls = ", ".join(f"NULL AS {column}" for column in sorted(missing))
        conn.execute(f"CREATE TEMP VIEW attempts AS SELECT *, {nulls} FROM main.attempts")  # noqa: S608


def _version(session: Session) -> int:
    """The schema's version, read without creating anything (0 before versions)."""
    known = session.execute("SELECT name FROM sqlite_master WHERE name = 'schema_version'")
    rows = session.execute("SELECT version FROM schema_version") if known else []
    return int(rows[0][0]) if rows else 0


def _disk_full(path: Path) -> bool:
    """True when the file system of ``path`` has no space left (SQLite says only "disk I/O error")."""
    try:
        return shutil.disk_usage(path.parent).free == 0
    except OSError:
        return False


class _FileLeadership:
    """Leadership on one machine: an exclusive ``flock`` held until release or death."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def alive(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SqliteStore:
    """One SQLite file, ``STATE_FILE`` in a state directory."""

    backend = "sqlite"
    shared = False

    def __init__(self, path: Path, *, lock_timeout: float) -> None:
        self.path = path
        self.where = str(path)
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

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={int(self.lock_timeout * 1000)}")
        return conn

    def _prepare(self) -> int:
        """Create the file (``0600``), the WAL journal and the schema, under a file lock."""
        lock = self.path.with_name(self.path.name + ".lock")
        with exclusive_lock(lock, timeout=self.lock_timeout, what="the audit log"):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # sqlite would use 0644
            try:
                if os.fstat(fd).st_mode & 0o077:  # left open by an older release
                    os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            with contextlib.closing(self._open()) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                session = _Session(conn)
                version = _version(session)
                if not current(session, version=version, columns_of=_columns):  # else no write lock needed
                    with session.transaction():
                        version = migrate(
                            session, primary_key=_PRIMARY_KEY, columns_of=_columns, where=str(self.path)
                        )
                _import_legacy(conn, self.path.parent)
        self._ready = True
        return version

    @contextlib.contextmanager
    def session(self, *, consequence: str) -> Iterator[_Session]:
        try:
            if not self._ready:
                self._prepare()
            with contextlib.closing(self._open()) as conn:
                yield _Session(conn)
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc, consequence=consequence) from None

    def read(self, query: Callable[[Session], T], *, empty: T) -> T:
        if not self.path.exists() and not _legacy_present(self.path.parent):
            return empty
        try:
            with self.session(consequence="nothing was changed") as session:
                return query(session)
        except StateUnwritable:  # a read-only or full directory: read without writing anything
            pass
        try:
            return self._read_as_is(query)
        except sqlite3.Error as exc:
            raise damaged(self.path, str(exc)) from None

    def _read_as_is(self, query: Callable[[Session], T]) -> T:
        """``query`` on the files as they are, writing nothing.

        What an older schema lacks is shadowed (:func:`_shadow_missing`); with
        legacy files not imported yet, the query reads a copy in memory,
        migrated and imported there.
        """
        legacy = _legacy_present(self.path.parent)
        with contextlib.closing(sqlite3.connect("file::memory:", uri=True, isolation_level=None)) as copy:
            if self.path.exists():
                uri = f"{self.path.resolve().as_uri()}?immutable=1"
                with contextlib.closing(
                    sqlite3.connect(uri, uri=True, timeout=self.lock_timeout, isolation_level=None)
                ) as conn:
                    if not legacy:
                        _shadow_missing(conn)
                        return query(_Session(conn))
                    conn.backup(copy)
            session = _Session(copy)
            with session.transaction():
                migrate(session, primary_key=_PRIMARY_KEY, columns_of=_columns, where=str(self.path))
            _import_legacy(copy, self.path.parent, rename=False)
            return query(session)

    def upgrade(self) -> int:
        try:
            return self._prepare()
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc, consequence="the schema was not changed") from None

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "version": self.read(_version, empty=0),
            "latest": LATEST,
            "path": str(self.path),
            "database": None,
            "url": None,
        }

    @contextlib.contextmanager
    def hold(self, names: Sequence[str], *, timeout: float, what: str) -> Iterator[None]:
        yield  # one machine: the state directory's flock locks are all there is

    def close(self) -> None:
        pass  # every session closes its connection

    def lead(self) -> Leadership | None:
        lock = self.path.with_name("leader.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return _FileLeadership(fd)

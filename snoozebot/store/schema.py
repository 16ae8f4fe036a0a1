"""The schema of the state store, versioned, written once for both dialects.

``MIGRATIONS[n]`` takes a schema at version ``n`` to ``n + 1``; ``{id}``
stands for each dialect's auto-numbered primary key. ``ADDED_COLUMNS`` are
columns of ``attempts`` added after a release; any log that lacks one gains
it when migrated. The version is the single row of ``schema_version``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from snoozebot.store.base import DatabaseUnavailable, Session

__all__ = [
    "ADDED_COLUMNS",
    "LATEST",
    "LEGACY_FILES",
    "MIGRATIONS",
    "LegacyFile",
    "current",
    "migrate",
    "version_of",
]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS attempts (
            id {id},
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
        )""",
        "CREATE INDEX IF NOT EXISTS attempts_time ON attempts (time)",
    ),
    (
        """CREATE TABLE IF NOT EXISTS tokens (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            key_id TEXT NOT NULL UNIQUE,
            salt TEXT NOT NULL,
            hash TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        "CREATE TABLE IF NOT EXISTS schedule_runs (provider TEXT PRIMARY KEY, previous TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS leader (
            id INTEGER PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            since TEXT NOT NULL
        )""",
    ),
    (
        """CREATE TABLE IF NOT EXISTS ui_sessions (
            id TEXT PRIMARY KEY,
            token TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            seen DOUBLE PRECISION NOT NULL,
            notices TEXT NOT NULL
        )""",
    ),
    (  # the savings journal (docs/savings.md): the columns keep the names of savings.sqlite3's
        """CREATE TABLE IF NOT EXISTS savings_details (
            id {id},
            instance_type TEXT NOT NULL,
            region TEXT NOT NULL,
            tags TEXT NOT NULL,
            UNIQUE (instance_type, region, tags)
        )""",
        """CREATE TABLE IF NOT EXISTS savings_intervals (
            id {id},
            provider TEXT NOT NULL,
            instance TEXT NOT NULL,
            details BIGINT REFERENCES savings_details (id),
            source TEXT NOT NULL,
            target TEXT,
            started DOUBLE PRECISION NOT NULL,
            ended DOUBLE PRECISION,
            ended_by TEXT
        )""",
        "CREATE UNIQUE INDEX IF NOT EXISTS savings_intervals_open ON savings_intervals (provider, instance)"
        " WHERE ended IS NULL",
        "CREATE INDEX IF NOT EXISTS savings_intervals_started ON savings_intervals (started)",
        "CREATE INDEX IF NOT EXISTS savings_intervals_instance ON savings_intervals (provider, instance)",
    ),
    (  # overrides and what notifications remember (docs/schedules.md), activity reports; UTC text times
        """CREATE TABLE IF NOT EXISTS override_snoozes (
            provider TEXT NOT NULL,
            instance TEXT NOT NULL,
            until TEXT NOT NULL,
            actor TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (provider, instance)
        )""",
        """CREATE TABLE IF NOT EXISTS override_moves (
            provider TEXT NOT NULL,
            instance TEXT NOT NULL,
            boundary TEXT NOT NULL,
            moved_to TEXT,
            actor TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (provider, instance, boundary)
        )""",
        """CREATE TABLE IF NOT EXISTS warned_boundaries (
            provider TEXT NOT NULL,
            instance TEXT NOT NULL,
            boundary TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (provider, instance, boundary)
        )""",
        "CREATE TABLE IF NOT EXISTS used_postpone_tokens (token TEXT PRIMARY KEY, used TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS signing_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS activity_reports (
            provider TEXT NOT NULL,
            instance TEXT NOT NULL,
            at TEXT NOT NULL,
            idle INTEGER NOT NULL,
            idle_since TEXT,
            readings TEXT NOT NULL,
            PRIMARY KEY (provider, instance)
        )""",
    ),
)
LATEST = len(MIGRATIONS)
"""The schema version this snoozebot writes."""

ADDED_COLUMNS = {"target": "TEXT", "scope": "TEXT", "host": "TEXT"}
"""Columns of ``attempts`` added after the first release; an older log gains them when migrated."""


@dataclass(frozen=True)
class LegacyFile:
    """A SQLite file of the state directory whose tables moved into the store.

    The embedded store copies its rows once, into ``tables[old]`` for each old
    table (the columns both have), then renames the file ``NAME.imported``.
    """

    name: str
    tables: Mapping[str, str]


LEGACY_FILES: tuple[LegacyFile, ...] = (
    LegacyFile("savings.sqlite3", {"details": "savings_details", "snoozes": "savings_intervals"}),
    LegacyFile(
        "overrides.sqlite3",
        {
            "snoozes": "override_snoozes",
            "moves": "override_moves",
            "warned": "warned_boundaries",
            "used_tokens": "used_postpone_tokens",
            "secrets": "signing_secrets",
        },
    ),
)
"""The files the embedded store imports, once each, from its state directory."""


def version_of(session: Session) -> int:
    """The schema's version; 0 for an empty database, or a log from before versions (attempts only)."""
    session.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    rows = session.execute("SELECT version FROM schema_version")
    return int(rows[0][0]) if rows else 0


def current(session: Session, *, version: int, columns_of: Callable[[Session], set[str]]) -> bool:
    """True when a schema at ``version`` needs nothing (checked without writing or locking)."""
    return version == LATEST and set(ADDED_COLUMNS) <= columns_of(session)


def migrate(
    session: Session, *, primary_key: str, columns_of: Callable[[Session], set[str]], where: str
) -> int:
    """Bring the schema to LATEST inside the caller's transaction and lock; the version reached.

    ``columns_of`` lists the columns of ``attempts`` in the dialect. A schema
    newer than LATEST is DatabaseUnavailable: this snoozebot must not write it.
    """
    version = version_of(session)
    if version > LATEST:
        raise DatabaseUnavailable(
            where,
            f"the state at {where} has schema version {version}, newer than this snoozebot's"
            f" ({LATEST}): upgrade snoozebot",
        )
    for statements in MIGRATIONS[version:]:
        for statement in statements:
            session.execute(statement.format(id=primary_key))
    present = columns_of(session)
    for column, kind in ADDED_COLUMNS.items():
        if column not in present:
            session.execute(f"ALTER TABLE attempts ADD COLUMN {column} {kind}")
    if version < LATEST:
        session.execute("DELETE FROM schema_version")
        session.execute("INSERT INTO schema_version (version) VALUES (?)", (LATEST,))
    return LATEST

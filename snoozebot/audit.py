"""The audit log: every start and stop attempt, in the state store.

An attempt is written *before* the call (result ``pending``) and completed
after it, so a run that is killed still leaves its trace. Each row names the
machine that made it (``host``), since a PostgreSQL store is shared by many
(docs/shared-state.md). Without a database the log is SQLite in the state
directory, safe for several processes at once.

Failures are one line each (docs/user-guide.md, "The state directory"): a
database that cannot be read is StateDamaged and is never written; one that
cannot be written (read-only or full directory) is StateUnwritable, and a
database server that cannot be reached is DatabaseUnavailable, both raised by
:meth:`AuditLog.begin` before any call is made; one held by another process
past ``lock_timeout`` is LockTimeout. :meth:`AuditLog.entries` still reads a
read-only or full directory.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from snoozebot.results import ActionResult
from snoozebot.store import LOCK_TIMEOUT, Session, Store, open_store
from snoozebot.store.sqlite import STATE_FILE, SqliteStore

__all__ = ["AUDIT_FILE", "LOCK_TIMEOUT", "AuditEntry", "AuditLog"]

AUDIT_FILE = STATE_FILE
"""The audit log's file name in the state directory (SQLite)."""

_COLUMNS = (
    "id, time, finished, actor, source, provider, instance, action, dry_run, result,"
    " state, error_code, error_message, target, scope, host"
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
    host: str | None = None

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
            "host": self.host,
        }


def _error_columns(result: ActionResult) -> tuple[str | None, str | None]:
    failure = result.failure
    return (failure.code, failure.message) if failure is not None else (None, None)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditLog:
    """Append-and-complete access to the audit log of a store (a Path: that SQLite file)."""

    def __init__(self, store: Store | Path, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.store = SqliteStore(store, lock_timeout=lock_timeout) if isinstance(store, Path) else store
        self.lock_timeout = lock_timeout
        self.host = socket.gethostname()

    @classmethod
    def in_directory(
        cls, state_directory: Path, *, lock_timeout: float = LOCK_TIMEOUT, store: Store | None = None
    ) -> AuditLog:
        """The audit log of a state directory's installation (``store`` None: the one configured)."""
        chosen = store if store is not None else open_store(state_directory, lock_timeout=lock_timeout)
        return cls(chosen, lock_timeout=lock_timeout)

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
        consequence = f"nothing was done: no {action} was attempted"
        with self.store.session(consequence=consequence) as db, db.transaction():
            return db.insert_many(
                "INSERT INTO attempts"
                " (time, actor, source, provider, instance, action, dry_run, result, target, scope, host)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                [
                    (now, actor, source, provider, iid, action, int(dry_run), target, scope, self.host)
                    for iid in instances
                ],
            )

    def note(self, *, actor: str, source: str, provider: str, action: str, instance: str = "") -> None:
        """Record something done that is no instance action (e.g. a schedule record reset), finished."""
        now = _now()
        with self.store.session(consequence=f"the {action} was done but is not in the audit log") as db:
            db.execute(
                "INSERT INTO attempts"
                " (time, finished, actor, source, provider, instance, action, dry_run, result, host)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'ok', ?)",
                (now, now, actor, source, provider, instance, action, self.host),
            )

    def finish(self, outcomes: Iterable[tuple[int, ActionResult]], *, result: str | None = None) -> None:
        """Complete pending attempts with their results, in one transaction.

        ``result`` overrides the ``ok``/``error`` column, e.g. ``unknown`` when
        the plugin's reply did not tell whether it acted.
        """
        now = _now()
        left_pending = "the call was made, but its attempts stay 'pending' in the audit log"
        with self.store.session(consequence=left_pending) as db, db.transaction():
            db.execute_many(
                "UPDATE attempts SET finished = ?, result = ?, state = ?, error_code = ?,"
                " error_message = ? WHERE id = ?",
                [
                    (now, result or ("ok" if r.ok else "error"), r.state, *_error_columns(r), row_id)
                    for row_id, r in outcomes
                ],
            )

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

        Reads a read-only or full state directory too; a damaged database is
        StateDamaged.
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
        # fixed column names; every value is bound
        query = f"SELECT {_COLUMNS} FROM attempts {clause} ORDER BY id DESC LIMIT ?"  # noqa: S608
        params = [*args, limit]

        def select(db: Session) -> list[tuple[Any, ...]]:
            return db.execute(query, params)

        empty: list[tuple[Any, ...]] = []
        return [
            AuditEntry(
                *(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])),
                *(r[9], r[10], r[11], r[12], r[13], r[14], r[15]),
            )
            for r in self.store.read(select, empty=empty)
        ]

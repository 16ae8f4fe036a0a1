"""What the state store holds, read by a test through the store itself, whichever backend it is.

The store is the one a ``snoozebot`` command started now would use: the
PostgreSQL database named by $SNOOZEBOT_DATABASE_URL (the ``state_backend``
fixture sets it), else SQLite in the state directory ``home``. Imported by the
test modules (it holds no tests itself).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from snoozebot.errors import SnoozebotError
from snoozebot.schedule.runner import RunRecord
from snoozebot.store import Session, Store, open_store

_FIELDS = ("name", "role", "key_id", "salt", "hash", "created")


def store(home: Path) -> Store:
    """The store of the state directory ``home`` (and of $SNOOZEBOT_DATABASE_URL, when set)."""
    return open_store(home)


def select(home: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of one query (``?`` placeholders); none when nothing was ever stored."""

    def query(db: Session) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in db.execute(sql, params)]

    return store(home).read(query, empty=[])


def wait_for_pending_attempt(home: Path, timeout: float = 30) -> None:
    """Until the audit log holds a pending attempt (the call is in flight, its locks held)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if select(home, "SELECT id FROM attempts WHERE result = 'pending'"):
                return
        except SnoozebotError:  # the command is still creating the store
            pass
        time.sleep(0.05)
    raise AssertionError("no pending attempt appeared in the audit log")


def previous_runs(home: Path) -> dict[str, dt.datetime]:
    """Each provider's previous successful schedule run, as recorded."""
    record = RunRecord(home)
    return {name: when for name in record.providers() if (when := record.previous(name)) is not None}


def token_records(home: Path) -> list[dict[str, str]]:
    """The token records exactly as stored: ``agent_tokens.json``, or the shared store's table."""
    if not store(home).shared:
        path = home / "agent_tokens.json"
        records: list[dict[str, str]] = json.loads(path.read_text())["tokens"] if path.exists() else []
        return records
    rows = select(home, f"SELECT {', '.join(_FIELDS)} FROM tokens ORDER BY created, name")
    return [dict(zip(_FIELDS, (str(v) for v in row), strict=True)) for row in rows]

"""The state store: SQLite in the state directory, or one PostgreSQL database for many machines.

:func:`open_store` chooses: ``$SNOOZEBOT_DATABASE_URL``, else ``[state] database``
in the config file, names a PostgreSQL database (docs/shared-state.md); without
either, SQLite in the state directory. A process keeps one PostgreSQL store
per URL, so its connections are reused.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from snoozebot.config import Config, load_config
from snoozebot.store.base import DatabaseUnavailable, Leadership, Session, Store
from snoozebot.store.url import DATABASE_URL_ENV, DatabaseUrl, database_url

__all__ = [
    "DATABASE_URL_ENV",
    "LOCK_TIMEOUT",
    "DatabaseUnavailable",
    "DatabaseUrl",
    "Leadership",
    "Session",
    "Store",
    "database_url",
    "forget_store",
    "open_store",
]

LOCK_TIMEOUT = 10.0
"""Seconds to wait for another process's hold on the SQLite file, unless told otherwise."""

_shared: dict[str, Store] = {}
_shared_lock = threading.Lock()


def open_store(
    state_directory: Path, config: Config | None = None, *, lock_timeout: float = LOCK_TIMEOUT
) -> Store:
    """The store of this installation; ``config`` None reads the default config (or $SNOOZEBOT_CONFIG)."""
    if config is None and not os.environ.get(DATABASE_URL_ENV):
        config = load_config(None)
    url = database_url(config or Config())
    if url is None:
        from snoozebot.store.sqlite import STATE_FILE, SqliteStore

        return SqliteStore(state_directory / STATE_FILE, lock_timeout=lock_timeout)
    with _shared_lock:
        store = _shared.get(url.url)
        if store is None:
            from snoozebot.store.postgres import PostgresStore

            store = _shared[url.url] = PostgresStore(url)
        return store


def forget_store(store: Store) -> None:
    """Close ``store``'s kept connections; the next :func:`open_store` of its URL makes a new one."""
    with _shared_lock:
        for url, kept in list(_shared.items()):
            if kept is store:
                del _shared[url]
    store.close()


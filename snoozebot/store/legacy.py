"""A state directory's legacy SQLite files, copied into a shared store.

See docs/shared-state.md, "Upgrading from files".

The embedded store imports the ``LEGACY_FILES`` of its own directory when it
first opens (:mod:`snoozebot.store.sqlite`). A database knows no state
directory: there, the first command of each machine that needs a file's
tables copies that machine's file (:func:`import_legacy`). Rows already in the
database win, so a machine's old rows never overwrite what another machine
stored; the file is then renamed ``NAME.imported``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from snoozebot.state import damaged, unwritable
from snoozebot.store.base import Store
from snoozebot.store.schema import LegacyFile

__all__ = ["import_legacy"]


def _tables(path: Path, legacy: LegacyFile) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Each new table's columns and rows, read from the legacy file (StateDamaged when it cannot be read)."""
    found = {}
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            for old, new in legacy.tables.items():
                columns = [str(row[1]) for row in conn.execute(f"PRAGMA table_info({old})")]
                if columns:  # names from LEGACY_FILES and the old schema, never from input
                    found[new] = (columns, conn.execute(f"SELECT {', '.join(columns)} FROM {old}").fetchall())  # noqa: S608
    except sqlite3.Error as exc:
        raise damaged(path, str(exc)) from None
    return found


def import_legacy(store: Store, directory: Path, legacy: LegacyFile, *, reading: bool = False) -> None:
    """Copy ``legacy`` of ``directory`` into a shared ``store`` once, then rename it ``NAME.imported``.

    Nothing to do for the embedded store (it imports its own) or when the file
    is gone. ``reading``: a directory that cannot be written is no error (the
    rows were copied; the next writer renames the file).
    """
    path = directory / legacy.name
    if not store.shared or not path.exists():
        return
    tables = _tables(path, legacy)
    with store.session(consequence=f"{path} was not imported") as db, db.transaction():
        for table, (columns, rows) in tables.items():
            marks = ", ".join("?" for _ in columns)
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
            db.execute_many(insert, rows)
    try:
        path.rename(path.with_name(path.name + ".imported"))
    except FileNotFoundError:
        pass  # another process of this machine imported it at the same time
    except OSError as exc:
        if not reading:
            raise unwritable(path, exc, consequence="its rows were copied; it will be read again") from None

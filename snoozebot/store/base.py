"""The state store's interface: what the audit log, tokens, schedule records and leadership use.

Two implementations (docs/shared-state.md): :class:`~snoozebot.store.sqlite.SqliteStore`,
the embedded default in the state directory, and
:class:`~snoozebot.store.postgres.PostgresStore`, shared by every machine on one
database. Callers write their SQL once, with ``?`` placeholders; the store
adapts it to its dialect. Every failure reaches the caller as one line
(a :class:`~snoozebot.errors.SnoozebotError`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from snoozebot.errors import StateUnavailable

__all__ = ["DatabaseUnavailable", "Leadership", "Session", "Store"]

T = TypeVar("T")


class DatabaseUnavailable(StateUnavailable):
    """The database cannot be reached, refuses us, or its schema is newer than this snoozebot (exit 3)."""

    code = "database_unavailable"


class Session(Protocol):
    """One connection, for the length of a ``with`` block."""

    dialect: str
    """``sqlite`` or ``postgresql``: for the rare query that cannot be written once for both."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders); its rows, if any."""
        ...

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one ``INSERT`` into a table with an ``id`` column; the new row's id."""
        ...

    def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        """The ``INSERT`` once per row, batched (one round trip on a server); the new ids in order."""
        ...

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement once per row, batched."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction: committed at the end of the block, rolled back on an exception."""
        ...


class Leadership(Protocol):
    """A held claim to lead the agents of one store (released by :meth:`release` or by death)."""

    def alive(self) -> bool:
        """True while the claim is still held (its connection is up)."""
        ...

    def release(self) -> None:
        """Give the claim up."""
        ...


class Store(Protocol):
    """Where the state shared by the machines of one installation lives."""

    backend: str
    """``sqlite`` or ``postgresql``."""
    shared: bool
    """True when other machines see the same state (a database server)."""
    where: str
    """Where the state is, as messages name it: the file, or ``the database at HOST:PORT``."""

    def session(self, *, consequence: str) -> AbstractContextManager[Session]:
        """A connection to a migrated schema; a failure is one line ending with ``consequence``."""
        ...

    def read(self, query: Callable[[Session], T], *, empty: T) -> T:
        """``query`` run on a connection that writes nothing if it must (a read-only directory);
        ``empty`` when nothing was ever stored."""
        ...

    def upgrade(self) -> int:
        """Create or migrate the schema (under a lock); the version it is at."""
        ...

    def status(self) -> dict[str, Any]:
        """``backend``, ``version``, ``latest`` and where the state is (never a password)."""
        ...

    def hold(self, names: Sequence[str], *, timeout: float, what: str) -> AbstractContextManager[None]:
        """Hold the cross-machine locks ``names`` (no-op unless shared), waiting at most ``timeout``."""
        ...

    def close(self) -> None:
        """Close the connections kept for reuse (a later call opens new ones)."""
        ...

    def lead(self) -> Leadership | None:
        """Try to become the leader, without waiting; None when another process leads."""
        ...

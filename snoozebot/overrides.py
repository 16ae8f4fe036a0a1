"""Overrides: stored exceptions to the schedules (docs/schedules.md, "Overrides").

Two kinds, each for one instance of one provider:

- a *snooze*: keep the instance out of schedule and idle stops until a time
  (``snoozebot instance snooze``, ``POST .../snooze``; audit source ``snooze``);
- a *move*: one stop boundary postponed to a later time, or skipped
  (postpone links, docs/notifications.md; audit source ``postpone``).

:class:`InstanceOverrides` is the pure view one decision consults;
:class:`OverrideStore` holds every query, written once for both state stores
(``snoozebot.store``: SQLite in the state directory, or one PostgreSQL
database that every machine sees, docs/shared-state.md). The store also keeps
what notifications must remember: which stop boundaries were warned about,
which postpone tokens were used, and the secret that signs them.

An override is shown while it lies ahead and is kept one day after it passed,
so that a run whose window still holds it (cron was down) honours it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from snoozebot.schedule.boundaries import Boundary, boundaries_between
from snoozebot.schedule.grammar import Schedule
from snoozebot.store import Session, Store, open_store
from snoozebot.store.legacy import import_legacy
from snoozebot.store.schema import LEGACY_FILES

__all__ = [
    "KEEP_AFTER",
    "InstanceOverrides",
    "OverrideMap",
    "OverrideRow",
    "OverrideStore",
    "parse_until",
]

T = TypeVar("T")
(_LEGACY,) = (f for f in LEGACY_FILES if f.name == "overrides.sqlite3")
"""Where an older snoozebot kept the overrides, in the state directory."""
KEEP_AFTER = dt.timedelta(hours=24)
"""How long an override is kept once passed (a late run's window may still hold it)."""


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
    """Every query on overrides, warned boundaries, used tokens and the signing secret, in a state store."""

    def __init__(self, store: Store, *, directory: Path | None = None) -> None:
        """``directory``: the state directory whose ``overrides.sqlite3`` a shared store imports."""
        self.store = store
        self._directory = directory if store.shared else None  # the embedded store imports its own

    @classmethod
    def in_directory(cls, state_directory: Path, *, store: Store | None = None) -> OverrideStore:
        """The overrides of a state directory's installation (``store`` None: the one configured)."""
        return cls(store if store is not None else open_store(state_directory), directory=state_directory)

    def _session(self, *, consequence: str) -> AbstractContextManager[Session]:
        self._import(reading=False)
        return self.store.session(consequence=consequence)

    def _read(self, query: Callable[[Session], T], *, empty: T) -> T:
        self._import(reading=True)
        return self.store.read(query, empty=empty)

    def _import(self, *, reading: bool) -> None:
        """This machine's ``overrides.sqlite3`` of an older snoozebot, copied into a shared store once."""
        if self._directory is not None:
            import_legacy(self.store, self._directory, _LEGACY, reading=reading)
            self._directory = None

    # -- snoozes --------------------------------------------------------------

    def snooze(self, provider: str, instance: str, until: dt.datetime, *, actor: str) -> None:
        """Keep ``instance`` out of schedule and idle stops until ``until`` (replacing an older snooze)."""
        with self._session(consequence="the snooze was not stored") as db, db.transaction():
            _prune(db)
            db.execute(
                "INSERT INTO override_snoozes (provider, instance, until, actor, created)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, instance) DO UPDATE"
                " SET until = excluded.until, actor = excluded.actor, created = excluded.created",
                (provider, instance, _text(until), actor, _text(dt.datetime.now(dt.UTC))),
            )

    def clear_snooze(self, provider: str, instance: str) -> bool:
        """Remove the instance's snooze; whether it had one."""
        with self._session(consequence="the snooze was not cleared") as db:
            gone = db.execute(
                "DELETE FROM override_snoozes WHERE provider = ? AND instance = ? RETURNING provider",
                (provider, instance),
            )
        return bool(gone)

    # -- moved boundaries -----------------------------------------------------

    def move(
        self, provider: str, instance: str, boundary: dt.datetime, moved_to: dt.datetime | None, *, actor: str
    ) -> None:
        """Move the stop boundary at ``boundary`` to ``moved_to`` (None: skip it).

        A boundary that is itself a moved one (postponed twice) moves the original's entry.
        """
        now = _text(dt.datetime.now(dt.UTC))
        target = _text(moved_to) if moved_to else None
        with self._session(consequence="the stop was not moved") as db, db.transaction():
            _prune(db)
            moved_again = db.execute(
                "UPDATE override_moves SET moved_to = ?, actor = ?, created = ?"
                " WHERE provider = ? AND instance = ? AND moved_to = ? RETURNING boundary",
                (target, actor, now, provider, instance, _text(boundary)),
            )
            if not moved_again:
                db.execute(
                    "INSERT INTO override_moves (provider, instance, boundary, moved_to, actor, created)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, instance, boundary) DO UPDATE"
                    " SET moved_to = excluded.moved_to, actor = excluded.actor, created = excluded.created",
                    (provider, instance, _text(boundary), target, actor, now),
                )

    # -- reading --------------------------------------------------------------

    def rows(self, now: dt.datetime, *, include_passed: bool = False) -> list[OverrideRow]:
        """Every override still ahead of ``now`` (with ``include_passed``: every one kept)."""

        def query(db: Session) -> list[OverrideRow]:
            snoozes = db.execute("SELECT provider, instance, until, actor FROM override_snoozes")
            moves = db.execute("SELECT provider, instance, boundary, moved_to, actor FROM override_moves")
            found = [OverrideRow(p, i, "snooze", None, _time(u), a) for p, i, u, a in snoozes]
            return found + [
                OverrideRow(p, i, "postpone" if to else "skip", _time(b), _time(to) if to else None, a)
                for p, i, b, to, a in moves
            ]

        nothing: list[OverrideRow] = []
        found = self._read(query, empty=nothing)
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
        with self._session(consequence="no warning was sent") as db, db.transaction():  # one per run
            _prune(db)
            for provider, instance, boundary in boundaries:
                if db.execute(
                    "INSERT INTO warned_boundaries (provider, instance, boundary, at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (provider, instance, boundary) DO NOTHING RETURNING provider",
                    (provider, instance, _text(boundary), now),
                ):
                    fresh.add((provider, instance, boundary))
        return fresh

    def use_token(self, token_id: str) -> bool:
        """Spend a postpone token; False when it was spent before."""
        with self._session(consequence="the link was not used") as db:
            spent = db.execute(
                "INSERT INTO used_postpone_tokens (token, used) VALUES (?, ?)"
                " ON CONFLICT (token) DO NOTHING RETURNING token",
                (token_id, _text(dt.datetime.now(dt.UTC))),
            )
        return bool(spent)

    def token_used(self, token_id: str) -> bool:
        """Whether the postpone token was spent."""

        def query(db: Session) -> bool:
            return bool(db.execute("SELECT 1 FROM used_postpone_tokens WHERE token = ?", (token_id,)))

        return self._read(query, empty=False)

    def secret(self, name: str = "postpone") -> bytes:
        """The named signing secret, created by whichever process needs it first."""
        with self._session(consequence="no link was signed") as db:
            db.execute(
                "INSERT INTO signing_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, secrets.token_hex(32)),
            )
            ((value,),) = db.execute("SELECT value FROM signing_secrets WHERE name = ?", (name,))
        return bytes.fromhex(str(value))


def _prune(db: Session) -> None:
    """Delete what passed more than KEEP_AFTER ago (by the real clock: a rehearsal deletes nothing)."""
    kept_since = _text(dt.datetime.now(dt.UTC) - KEEP_AFTER)
    db.execute("DELETE FROM override_snoozes WHERE until < ?", (kept_since,))
    db.execute(
        "DELETE FROM override_moves WHERE boundary < ? AND (moved_to IS NULL OR moved_to < ?)",
        (kept_since, kept_since),
    )
    db.execute("DELETE FROM warned_boundaries WHERE boundary < ?", (kept_since,))


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

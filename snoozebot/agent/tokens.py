"""Agent bearer tokens: roles, and a store that keeps only salted hashes.

A token looks like ``sbt_<key id>_<secret>``. The key id finds the record
(it is not secret); the whole token is hashed with the record's salt and
compared in constant time. ``agent_tokens.json`` in the state directory holds
names, roles, salts and hashes, never a token. The file is re-read when it
changes, so tokens created or revoked by the CLI apply to a running agent.
A file that cannot be read or parsed is never taken for "no tokens": every
use of the store raises StateDamaged, and nothing writes over it.

With a shared store (PostgreSQL, docs/shared-state.md) the same records live
in its ``tokens`` table instead, and checks read it (each answer is reused for at
most CHECK_SECONDS): a token created through one agent works on all of them, a
revoked one is refused by all within a second.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from snoozebot.errors import StateDamaged, UsageError
from snoozebot.state import atomic_write_json, damaged, exclusive_lock, read_json
from snoozebot.store import Session, Store, open_store

__all__ = ["CHECK_SECONDS", "Role", "TokenExists", "TokenRecord", "TokenStore", "UnknownToken"]

_PREFIX = "sbt"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_TOKEN_RE = re.compile(r"^sbt_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_DUMMY_SALT = "0" * 32


class UnknownToken(UsageError):
    """No token has that name."""

    code = "token_not_found"


class TokenExists(UsageError):
    """A token with that name exists already."""

    code = "token_exists"


class Role(enum.StrEnum):
    """What a token may do: viewer < operator < admin, each including the ones before it.

    ``reporter`` stands apart (docs/agent.md#roles): it may only send activity
    reports, and reads nothing; operators and admins may send reports too.
    """

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    REPORTER = "reporter"

    def allows(self, needed: Role) -> bool:
        """True when this role may do what ``needed`` may."""
        if needed is Role.REPORTER:
            return self is Role.REPORTER or _RANKS.get(self, -1) >= _RANKS[Role.OPERATOR]
        return self is not Role.REPORTER and _RANKS[self] >= _RANKS[needed]


_RANKS = {role: rank for rank, role in enumerate((Role.VIEWER, Role.OPERATOR, Role.ADMIN))}


@dataclass(frozen=True)
class TokenRecord:
    """A stored token: everything but the token itself."""

    name: str
    role: Role
    key_id: str
    salt: str
    hash: str
    created: str

    def public(self) -> dict[str, str]:
        """What ``token list`` and the API show: no salt, no hash."""
        return {"name": self.name, "role": self.role.value, "created": self.created}


def _digest(salt: str, token: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + token.encode()).hexdigest()


_FIELDS = "name, role, key_id, salt, hash, created"


def _from_row(row: tuple[object, ...]) -> TokenRecord:
    """A record read from the ``tokens`` table; a row that is not one is StateDamaged."""
    try:
        name, role, key_id, salt, hash_, created = (str(v) for v in row)
        return TokenRecord(name, Role(role), key_id, salt, hash_, created)
    except ValueError:
        raise StateDamaged("tokens", f"the tokens table holds a record that is not one: {row[0]!r}") from None


CHECK_SECONDS = 0.5
"""How long a shared store's answer for one key id is reused: a revocation anywhere applies within it."""


class _SharedTokens:
    """The ``tokens`` table of a shared store; each key id's record is re-read after CHECK_SECONDS."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._recent: dict[str, tuple[float, TokenRecord | None]] = {}

    def _select(self, clause: str, params: tuple[str, ...]) -> list[TokenRecord]:
        def query(db: Session) -> list[TokenRecord]:
            rows = db.execute(f"SELECT {_FIELDS} FROM tokens {clause}", params)  # noqa: S608 fixed text
            return [_from_row(row) for row in rows]

        return self.store.read(query, empty=[])

    def list(self) -> list[TokenRecord]:
        return self._select("ORDER BY created, name", ())

    def fresh(self, key_id: str) -> bool:
        """True when ``key_id``'s record was read less than CHECK_SECONDS ago (no query needed)."""
        seen = self._recent.get(key_id)
        return seen is not None and time.monotonic() - seen[0] < CHECK_SECONDS

    def by_key(self, key_id: str) -> TokenRecord | None:
        now = time.monotonic()
        seen = self._recent.get(key_id)
        if seen is not None and now - seen[0] < CHECK_SECONDS:
            return seen[1]
        found = self._select("WHERE key_id = ?", (key_id,))
        record = found[0] if found else None
        if len(self._recent) > 10_000:  # bounded: unknown key ids cannot grow it without end
            self._recent.clear()
        self._recent[key_id] = (now, record)
        return record

    def add(self, record: TokenRecord) -> None:
        with self.store.session(consequence="no token was created") as db:
            db.execute(
                f"INSERT INTO tokens ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608 fixed names
                " ON CONFLICT (name) DO NOTHING",
                (record.name, record.role.value, record.key_id, record.salt, record.hash, record.created),
            )
            stored = db.execute("SELECT key_id FROM tokens WHERE name = ?", (record.name,))
        if not stored or stored[0][0] != record.key_id:
            raise TokenExists(f"a token named {record.name!r} exists already; revoke it first")

    def remove(self, name: str) -> TokenRecord:
        with self.store.session(consequence="no token was revoked") as db, db.transaction():
            rows = db.execute(f"SELECT {_FIELDS} FROM tokens WHERE name = ?", (name,))  # noqa: S608
            if not rows:
                known = ", ".join(str(r[0]) for r in db.execute("SELECT name FROM tokens ORDER BY name"))
                raise UnknownToken(f"no token named {name!r} (tokens: {known or 'none'})")
            db.execute("DELETE FROM tokens WHERE name = ?", (name,))
        self._recent.clear()
        return _from_row(rows[0])


class TokenStore:
    """Create, list, revoke, and verify tokens: ``agent_tokens.json``, or a shared store's table.

    ``store`` None is the store configured for ``directory`` (docs/shared-state.md).
    """

    def __init__(self, directory: Path, store: Store | None = None) -> None:
        self.path = directory / "agent_tokens.json"
        self._lock_path = directory / "agent_tokens.lock"
        self._stamp: tuple[int, int, int] | None = None
        self._by_key: dict[str, TokenRecord] = {}
        chosen = store if store is not None else open_store(directory)
        self._shared = _SharedTokens(chosen) if chosen.shared else None

    def _read(self) -> list[TokenRecord]:
        data = read_json(self.path, {"tokens": []})
        items = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise damaged(self.path, 'expected {"tokens": [...]}')
        records = []
        for n, item in enumerate(items):
            try:
                if not all(isinstance(v, str) for v in item.values()):
                    raise TypeError
                records.append(TokenRecord(**{**item, "role": Role(item["role"])}))
            except (AttributeError, TypeError, ValueError, KeyError):
                raise damaged(self.path, f"token entry {n} is not a valid record") from None
        return records

    def _write(self, records: list[TokenRecord]) -> None:
        atomic_write_json(self.path, {"tokens": [{**asdict(r), "role": r.role.value} for r in records]})

    @property
    def shared(self) -> bool:
        """True when the tokens are a shared store's (each check is a database query)."""
        return self._shared is not None

    def answers_at_once(self, token: str | None) -> bool:
        """True when :meth:`verify` of ``token`` needs no database round trip (so no thread)."""
        if self._shared is None or not token:
            return True
        match = _TOKEN_RE.match(token)
        return match is None or self._shared.fresh(match.group(1))

    def list(self) -> list[TokenRecord]:
        """Every stored token, oldest first."""
        return self._shared.list() if self._shared else self._read()

    def create(self, *, name: str, role: Role) -> str:
        """Store a new token and return it; this is the only time it exists in clear."""
        if not _NAME_RE.match(name):
            raise UsageError(
                f"invalid token name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'"
            )
        key_id = secrets.token_hex(6)
        token = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_hex(16)
        record = TokenRecord(
            name=name,
            role=role,
            key_id=key_id,
            salt=salt,
            hash=_digest(salt, token),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if self._shared:
            self._shared.add(record)
            return token
        with exclusive_lock(self._lock_path, timeout=10.0, what="the agent tokens"):
            records = self._read()
            if any(r.name == name for r in records):
                raise TokenExists(f"a token named {name!r} exists already; revoke it first")
            self._write([*records, record])
        return token

    def revoke(self, name: str) -> TokenRecord:
        """Delete the token ``name``; it stops working at once, in a running agent too."""
        if self._shared:
            return self._shared.remove(name)
        with exclusive_lock(self._lock_path, timeout=10.0, what="the agent tokens"):
            records = self._read()
            gone = [r for r in records if r.name == name]
            if not gone:
                known = ", ".join(r.name for r in records) or "none"
                raise UnknownToken(f"no token named {name!r} (tokens: {known})")
            self._write([r for r in records if r.name != name])
        return gone[0]

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            raise damaged(self.path, exc.strerror or str(exc)) from None
        if stamp != self._stamp:
            self._by_key = {r.key_id: r for r in self._read()}
            self._stamp = stamp

    def verify(self, token: str) -> TokenRecord | None:
        """The record of ``token``, or None; the comparison takes constant time."""
        match = _TOKEN_RE.match(token)
        if self._shared:
            record = self._shared.by_key(match.group(1)) if match else None
        else:
            self._refresh()
            record = self._by_key.get(match.group(1)) if match else None
        expected = record.hash if record else _digest(_DUMMY_SALT, "")
        actual = _digest(record.salt if record else _DUMMY_SALT, token)
        if hmac.compare_digest(expected.encode(), actual.encode()) and record is not None:
            return record
        return None


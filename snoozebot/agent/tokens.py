"""Agent bearer tokens: roles, and a store that keeps only salted hashes.

A token looks like ``sbt_<key id>_<secret>``. The key id finds the record
(it is not secret); the whole token is hashed with the record's salt and
compared in constant time. ``agent_tokens.json`` in the state directory holds
names, roles, salts and hashes, never a token. The file is re-read when it
changes, so tokens created or revoked by the CLI apply to a running agent.
A file that cannot be read or parsed is never taken for "no tokens": every
use of the store raises StateDamaged, and nothing writes over it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from snoozebot.errors import UsageError
from snoozebot.state import atomic_write_json, damaged, exclusive_lock, read_json

__all__ = ["Role", "TokenExists", "TokenRecord", "TokenStore", "UnknownToken"]

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


class TokenStore:
    """``agent_tokens.json``: create, list, revoke, and verify tokens."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "agent_tokens.json"
        self._lock_path = directory / "agent_tokens.lock"
        self._stamp: tuple[int, int, int] | None = None
        self._by_key: dict[str, TokenRecord] = {}

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

    def list(self) -> list[TokenRecord]:
        """Every stored token, oldest first."""
        return self._read()

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
        with exclusive_lock(self._lock_path, timeout=10.0, what="the agent tokens"):
            records = self._read()
            if any(r.name == name for r in records):
                raise TokenExists(f"a token named {name!r} exists already; revoke it first")
            self._write([*records, record])
        return token

    def revoke(self, name: str) -> TokenRecord:
        """Delete the token ``name``; it stops working at once, in a running agent too."""
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
        self._refresh()
        match = _TOKEN_RE.match(token)
        record = self._by_key.get(match.group(1)) if match else None
        expected = record.hash if record else _digest(_DUMMY_SALT, "")
        actual = _digest(record.salt if record else _DUMMY_SALT, token)
        if hmac.compare_digest(expected.encode(), actual.encode()) and record is not None:
            return record
        return None


"""Browser sessions and CSRF tokens for the web UI, kept in the agent's memory or a shared store.

Signing in checks a token exactly as the REST API does; the browser then
holds only a random session id, in an ``HttpOnly``, ``SameSite=Strict``
cookie scoped to ``/ui``. The token stays on the server, in memory, and every
request re-checks it against the token store (:func:`snoozebot.agent.auth.authorize`),
so a revoked token or a changed role applies at once. Each session has its
own CSRF token, which every state-changing form carries. Sessions end after
``IDLE_SECONDS`` without a request, ``MAX_SECONDS`` in all, on sign-out, or
when the agent restarts.

With a shared store (PostgreSQL, docs/shared-state.md) :class:`SharedSessions`
keeps them in its ``ui_sessions`` table instead, so a browser signed in through
one agent is signed in on all of them, and a sign-out ends it everywhere. A row
is found by a hash of the session id and holds the token masked with a key
derived from the session id: someone who reads the table cannot use it
without the browser's cookie. Times are then wall-clock seconds.

The sign-in form is protected too: its page sets a one-time nonce in a cookie
and in the form, and the POST must carry both, equal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from snoozebot.store import Session as DbSession
from snoozebot.store import Store

__all__ = [
    "IDLE_SECONDS",
    "LOGIN_COOKIE",
    "MAX_SECONDS",
    "MAX_SESSIONS",
    "SESSION_COOKIE",
    "Session",
    "SessionStore",
    "SharedSessions",
    "new_nonce",
    "same_secret",
]

SESSION_COOKIE = "snoozebot_session"
LOGIN_COOKIE = "snoozebot_login"
IDLE_SECONDS = 8 * 3600.0
MAX_SECONDS = 24 * 3600.0
MAX_SESSIONS = 1000

Clock = Callable[[], float]
"""Seconds on a monotonic clock."""


def new_nonce() -> str:
    """A fresh unguessable value (session ids, CSRF tokens, sign-in nonces)."""
    return secrets.token_urlsafe(32)


def same_secret(expected: str, given: str | None) -> bool:
    """True when ``given`` equals ``expected``, compared in constant time."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


@dataclass
class Session:
    """One signed-in browser: the token it signed in with (server side only) and its CSRF token."""

    id: str
    token: str = field(repr=False)
    csrf: str = field(repr=False)
    created: float
    seen: float
    notices: list[tuple[str, str]] = field(default_factory=list)
    """Messages for the next page: ``(kind, text)``, kind ``ok`` or ``error``."""
    saved: Callable[[Session], None] | None = field(default=None, repr=False, compare=False)
    """Called when the notices change (a shared store writes them)."""

    def notify(self, kind: str, text: str) -> None:
        """Show ``text`` on the next page this session sees."""
        self.notices.append((kind, text))
        if self.saved is not None:
            self.saved(self)

    def take_notices(self) -> list[tuple[str, str]]:
        """The pending messages, now cleared."""
        taken, self.notices = self.notices, []
        if taken and self.saved is not None:
            self.saved(self)
        return taken


class SessionStore:
    """Sessions by id; thread-safe, bounded, expiring."""

    def __init__(
        self,
        *,
        idle_seconds: float = IDLE_SECONDS,
        max_seconds: float = MAX_SECONDS,
        max_sessions: int = MAX_SESSIONS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token: str) -> Session:
        """A new session for ``token`` (already verified); the oldest goes when the store is full."""
        now = self._clock()
        session = Session(id=new_nonce(), token=token, csrf=new_nonce(), created=now, seen=now)
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.seen)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session ``session_id`` (its idle timer restarts), or None."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def end(self, session_id: str | None) -> None:
        """Forget a session (sign-out, revoked token)."""
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle_seconds or now - session.created > self.max_seconds

    def _expire(self, now: float) -> None:
        for gone in [s.id for s in self._sessions.values() if self._expired(s, now)]:
            del self._sessions[gone]


_SEEN_EVERY = 5.0
"""Seconds between two writes of a shared session's idle timer."""


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _mask(session_id: str, data: bytes) -> bytes:
    """``data`` XOR a stream derived from the (secret) session id: masks and unmasks."""
    stream = hashlib.shake_256(b"snoozebot-ui-token\0" + session_id.encode()).digest(len(data))
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


class SharedSessions:
    """Sessions in a store's ``ui_sessions`` table: the interface of :class:`SessionStore`."""

    def __init__(
        self,
        store: Store,
        *,
        idle_seconds: float = IDLE_SECONDS,
        max_seconds: float = MAX_SECONDS,
        max_sessions: int = MAX_SESSIONS,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.max_sessions = max_sessions
        self._clock = clock

    def _save(self, session: Session) -> None:
        with self.store.session(consequence="the page's message is lost") as db:
            notices = json.dumps(session.notices)
            db.execute("UPDATE ui_sessions SET notices = ? WHERE id = ?", (notices, _key(session.id)))

    def create(self, token: str) -> Session:
        """A new session for ``token`` (already verified); the oldest goes when the table is full."""
        now = self._clock()
        session = Session(
            id=new_nonce(), token=token, csrf=new_nonce(), created=now, seen=now, saved=self._save
        )
        with self.store.session(consequence="nobody was signed in") as db, db.transaction():
            db.execute(
                "DELETE FROM ui_sessions WHERE seen < ? OR created < ?",
                (now - self.idle_seconds, now - self.max_seconds),
            )
            count = int(db.execute("SELECT count(*) FROM ui_sessions")[0][0])
            if count >= self.max_sessions:
                db.execute(
                    "DELETE FROM ui_sessions WHERE id IN (SELECT id FROM ui_sessions ORDER BY seen LIMIT ?)",
                    (count - self.max_sessions + 1,),
                )
            db.execute(
                "INSERT INTO ui_sessions (id, token, csrf, created, seen, notices)"
                " VALUES (?, ?, ?, ?, ?, '[]')",
                (_key(session.id), _mask(session.id, token.encode()).hex(), session.csrf, now, now),
            )
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session ``session_id`` (its idle timer restarts), or None."""
        if not session_id:
            return None
        now = self._clock()

        def query(db: DbSession) -> list[tuple[Any, ...]]:
            return db.execute(
                "SELECT token, csrf, created, seen, notices FROM ui_sessions WHERE id = ?",
                (_key(session_id),),
            )

        nothing: list[tuple[Any, ...]] = []
        rows = self.store.read(query, empty=nothing)
        if not rows:
            return None
        masked, csrf, created, seen, notices = rows[0]
        if now - float(seen) > self.idle_seconds or now - float(created) > self.max_seconds:
            self.end(session_id)
            return None
        if now - float(seen) > _SEEN_EVERY:
            with self.store.session(consequence="the session's idle timer did not restart") as db:
                db.execute("UPDATE ui_sessions SET seen = ? WHERE id = ?", (now, _key(session_id)))
        token = _mask(session_id, bytes.fromhex(str(masked))).decode(errors="replace")
        kept = [(str(kind), str(text)) for kind, text in json.loads(str(notices))]
        return Session(session_id, token, str(csrf), float(created), now, kept, saved=self._save)

    def end(self, session_id: str | None) -> None:
        """Forget a session (sign-out, revoked token), on every agent."""
        with self.store.session(consequence="the session was not ended") as db:
            db.execute("DELETE FROM ui_sessions WHERE id = ?", (_key(session_id or ""),))

    def __len__(self) -> int:
        def query(db: DbSession) -> int:
            return int(db.execute("SELECT count(*) FROM ui_sessions")[0][0])

        return self.store.read(query, empty=0)

"""Browser sessions and CSRF tokens for the web UI, kept in the agent's memory.

Signing in checks a token exactly as the REST API does; the browser then
holds only a random session id, in an ``HttpOnly``, ``SameSite=Strict``
cookie scoped to ``/ui``. The token stays on the server, in memory, and every
request re-checks it against the token store (:func:`snoozebot.agent.auth.authorize`),
so a revoked token or a changed role applies at once. Each session has its
own CSRF token, which every state-changing form carries. Sessions end after
``IDLE_SECONDS`` without a request, ``MAX_SECONDS`` in all, on sign-out, or
when the agent restarts.

The sign-in form is protected too: its page sets a one-time nonce in a cookie
and in the form, and the POST must carry both, equal.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "IDLE_SECONDS",
    "LOGIN_COOKIE",
    "MAX_SECONDS",
    "MAX_SESSIONS",
    "SESSION_COOKIE",
    "Session",
    "SessionStore",
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

    def notify(self, kind: str, text: str) -> None:
        """Show ``text`` on the next page this session sees."""
        self.notices.append((kind, text))

    def take_notices(self) -> list[tuple[str, str]]:
        """The pending messages, now cleared."""
        taken, self.notices = self.notices, []
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

"""Bearer authentication and role checks, reusable by any router.

:func:`authorize` checks a token string against a store and a role;
:func:`require` wraps it as a FastAPI dependency that reads the
``Authorization: Bearer`` header and returns the caller's
:class:`~snoozebot.agent.tokens.TokenRecord` (its ``name`` is the audit actor).
No token, or one the store does not know: 401. A known token whose role is
too low: 403. Tokens are never logged or echoed.

Tokens come from the ``Authorization`` header only: :class:`RefuseQueryTokens`
answers 401 to any request with a ``token`` or ``access_token`` query
parameter, before anything else runs (a URL ends up in logs and histories).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import anyio
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from snoozebot.agent.errors import ApiError, error_response
from snoozebot.agent.tokens import Role, TokenRecord, TokenStore

__all__ = ["QUERY_TOKEN_NAMES", "Dependency", "RefuseQueryTokens", "authorize", "bearer_scheme", "require"]

Dependency = Callable[..., Awaitable[TokenRecord]]
"""A FastAPI dependency returning the authenticated caller."""

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A token from `snoozebot agent token create --role ROLE --name NAME`.",
)


QUERY_TOKEN_NAMES = frozenset({"token", "access_token"})
"""Query parameters refused with 401: a token does not belong in a URL."""

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(message: str) -> ApiError:
    err = ApiError(401, "unauthorized", message)
    err.headers = dict(_CHALLENGE)
    return err


def authorize(store: TokenStore, token: str | None, role: Role) -> TokenRecord:
    """The record of ``token`` if it may act as ``role``; else a 401 or 403 ApiError."""
    if not token:
        raise _unauthorized("missing bearer token (Authorization: Bearer TOKEN)")
    record = store.verify(token)
    if record is None:
        raise _unauthorized("invalid or revoked token")
    if not record.role.allows(role):
        raise ApiError(
            403, "forbidden", f"token {record.name!r} has role {record.role.value}; this needs {role.value}"
        )
    return record


def require(role: Role) -> Dependency:
    """A dependency that admits callers with ``role`` or a higher one."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
    ) -> TokenRecord:
        store: TokenStore = request.app.state.tokens
        token = credentials.credentials if credentials else None
        if not store.answers_at_once(token):  # a database round trip: never in the event loop
            return await anyio.to_thread.run_sync(authorize, store, token, role)
        return authorize(store, token, role)

    dependency.__name__ = f"require_{role.value}"
    return dependency


def _has_query_token(query: bytes) -> bool:
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return any(name.lower() in QUERY_TOKEN_NAMES for name, _ in pairs)


class RefuseQueryTokens:
    """Answer 401 to requests that carry a token in the query string, whatever else they send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string") and _has_query_token(scope["query_string"]):
            message = "send the token in the Authorization header (Bearer TOKEN), never in the URL"
            await error_response(401, "unauthorized", message, headers=dict(_CHALLENGE))(scope, receive, send)
            return
        await self.app(scope, receive, send)

"""Bearer authentication and role checks, reusable by any router.

:func:`authorize` checks a token string against a store and a role;
:func:`require` wraps it as a FastAPI dependency that reads the
``Authorization: Bearer`` header and returns the caller's
:class:`~snoozebot.agent.tokens.TokenRecord` (its ``name`` is the audit actor).
No token, or one the store does not know: 401. A known token whose role is
too low: 403. Tokens are never logged or echoed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from snoozebot.agent.errors import ApiError
from snoozebot.agent.tokens import Role, TokenRecord, TokenStore

__all__ = ["Dependency", "authorize", "bearer_scheme", "require"]

Dependency = Callable[..., Awaitable[TokenRecord]]
"""A FastAPI dependency returning the authenticated caller."""

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A token from `snoozebot agent token create --role ROLE --name NAME`.",
)


def _unauthorized(message: str) -> ApiError:
    err = ApiError(401, "unauthorized", message)
    err.headers = {"WWW-Authenticate": "Bearer"}
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
        return authorize(store, credentials.credentials if credentials else None, role)

    dependency.__name__ = f"require_{role.value}"
    return dependency

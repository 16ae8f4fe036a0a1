"""Who is calling, and may they: the UI's session and role checks.

Routes of the UI router use :class:`UiRoute`, so a check deep in a
dependency can answer with a page or a redirect by raising
:class:`Interrupt`, and every answer gets the security headers.

:func:`viewer`, :func:`operator` and :func:`admin` are the dependencies:
no session (or an expired one) sends a page to the sign-in form, a revoked
token ends the session, and a role too low answers a 403 page. The role
check is :func:`snoozebot.agent.auth.authorize`, the REST API's own.
:func:`form_of` reads a POSTed form and refuses it (403) without the
session's CSRF token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from snoozebot import sdk
from snoozebot.agent.auth import authorize
from snoozebot.agent.errors import ApiError
from snoozebot.agent.service import AgentService
from snoozebot.agent.tokens import Role, TokenRecord, TokenStore
from snoozebot.agent.ui.calls import SingleFlight
from snoozebot.agent.ui.render import SECURITY_HEADERS, render
from snoozebot.agent.ui.session import SESSION_COOKIE, Session, SessionStore, SharedSessions, same_secret

__all__ = [
    "Caller",
    "Interrupt",
    "UiRoute",
    "UiState",
    "admin",
    "error_page",
    "forbidden",
    "form_of",
    "operator",
    "page",
    "ui_state",
    "viewer",
]


@dataclass
class UiState:
    """What the UI keeps while the agent runs."""

    service: AgentService
    tokens: TokenStore
    wait_seconds: float
    sessions: SessionStore | SharedSessions = field(default_factory=SessionStore)
    listings: SingleFlight = field(default_factory=SingleFlight)
    """Instance listings in flight, shared by the pages that want them."""
    load_failures: dict[str, str] = field(default_factory=dict)
    """Error code of the last failed load of each plugin through the UI."""

    def list_instances(self, provider: str, filters: dict[str, str]) -> asyncio.Future[list[sdk.Instance]]:
        """The provider's instances; a listing already in flight for the same filters is shared."""
        key = (provider, tuple(sorted(filters.items())))
        return self.listings.run(key, lambda: self.service.list_instances(provider, filters))


def ui_state(request: Request) -> UiState:
    """The app's :class:`UiState` (set by :func:`snoozebot.agent.ui.install_ui`)."""
    state: UiState = request.app.state.ui
    return state


@dataclass(frozen=True)
class Caller:
    """A signed-in browser: its session and its token's record."""

    session: Session
    record: TokenRecord

    def may(self, role: str) -> bool:
        """True when this caller's role allows ``role`` (for showing buttons)."""
        return self.record.role.allows(Role(role))


class Interrupt(Exception):
    """Stop handling the request and answer ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class UiRoute(APIRoute):
    """A route that answers :class:`Interrupt` s and adds the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except Interrupt as stop:
                response = stop.response
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handle


def error_page(caller: Caller | None, *, status: int, title: str, message: str) -> HTMLResponse:
    """A page that says what went wrong, with the navigation when someone is signed in."""
    return render(
        "error.html", status=status, caller=caller, csrf=caller.session.csrf if caller else "",
        notices=[], active="", title=title, message=message,
    )


def forbidden(caller: Caller | None, message: str) -> Interrupt:
    """A 403 page."""
    return Interrupt(error_page(caller, status=403, title="Not allowed", message=message))


def _to_sign_in(request: Request, notice: str | None = None) -> Interrupt:
    target = request.url.path if request.method == "GET" else "/ui"
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    location = f"/ui/login?next={quote(target, safe='')}"
    if notice:
        location += f"&notice={notice}"
    return Interrupt(RedirectResponse(location, status_code=303))


def _caller(request: Request, role: Role) -> Caller:
    ui = ui_state(request)
    session = ui.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise _to_sign_in(request)
    try:
        record = authorize(ui.tokens, session.token, role)
    except ApiError as exc:
        if exc.status == 401:
            ui.sessions.end(session.id)
            raise _to_sign_in(request, "revoked") from None
        known = ui.tokens.verify(session.token)
        raise forbidden(Caller(session, known) if known else None, exc.message) from None
    return Caller(session, record)


async def _checked(request: Request, role: Role) -> Caller:
    """:func:`_caller`, in a thread when sessions and tokens are a database's (no I/O in the event loop)."""
    if ui_state(request).tokens.shared:
        return await anyio.to_thread.run_sync(_caller, request, role)
    return _caller(request, role)


async def viewer(request: Request) -> Caller:
    """Dependency: any signed-in caller."""
    return await _checked(request, Role.VIEWER)


async def operator(request: Request) -> Caller:
    """Dependency: a signed-in operator or admin."""
    return await _checked(request, Role.OPERATOR)


async def admin(request: Request) -> Caller:
    """Dependency: a signed-in admin."""
    return await _checked(request, Role.ADMIN)


async def form_of(request: Request, caller: Caller) -> FormData:
    """The POSTed form, once its CSRF token is the session's (else a 403 page)."""
    form = await request.form()
    given = form.get("csrf")
    if not same_secret(caller.session.csrf, given if isinstance(given, str) else None):
        raise forbidden(caller, "This form is out of date or did not come from this agent's pages. "
                                "Reload the page and try again.")
    return form


def page(caller: Caller, template: str, *, active: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A full page for a signed-in caller: navigation, its pending messages, its CSRF token."""
    return render(
        template,
        status=status,
        caller=caller,
        csrf=caller.session.csrf,
        notices=caller.session.take_notices(),
        active=active,
        **context,
    )

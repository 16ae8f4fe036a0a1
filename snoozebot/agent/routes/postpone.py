"""``/postpone/{token}``: the page a warning's postpone link opens (docs/notifications.md).

No login: the signed token is the authority, for its one instance, boundary
and choice. ``GET`` only shows what the link will do and a button (mail
scanners that follow links change nothing); ``POST`` acts, once: it moves
(or skips) the stop boundary as an override, audited with source
``postpone`` and actor ``link``. The form carries the token itself, so a
cross-site form without it is refused like any altered token. A used or
expired token gets a 410 page, an altered or unknown one a 403 page.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from snoozebot.agent.routes.deps import service_of
from snoozebot.agent.service import AgentService
from snoozebot.agent.ui.guard import Interrupt, UiRoute, error_page
from snoozebot.agent.ui.render import render
from snoozebot.notify.tokens import PostponeToken, TokenRefused
from snoozebot.overrides import OverrideStore

__all__ = ["router"]

router = APIRouter(route_class=UiRoute, include_in_schema=False)
_MAX_TOKEN = 2048


def _refused() -> Interrupt:
    message = "This postpone link is not valid: it was changed, or it was not made by this snoozebot."
    return Interrupt(error_page(None, status=403, title="Link not valid", message=message))


def _gone(message: str) -> Interrupt:
    return Interrupt(error_page(None, status=410, title="Link no longer works", message=message))


def _checked(store: OverrideStore, text: str, now: dt.datetime) -> PostponeToken:
    """The token, if it may still act; Interrupt with the 403 or 410 page otherwise."""
    if len(text) > _MAX_TOKEN:
        raise _refused()
    try:
        token = PostponeToken.decode(text, store.secret())
    except TokenRefused:
        raise _refused() from None
    if now >= token.expires:
        raise _gone(f"This link expired at {token.local(token.expires)}, a day after the stop it was for.")
    if store.token_used(token.payload()):
        raise _gone("This link was used already; each postpone link works once.")
    return token


def _page(token: PostponeToken, text: str, *, now: dt.datetime, done: bool) -> HTMLResponse:
    moved = token.moved_to
    when = token.local(token.boundary)
    if moved is None:
        title, verb = "Skip this stop", "Skip this stop"
        effect = "This link skips that one stop; the schedule's later start and stop times apply as usual."
        outcome = f"Done: the stop at {when} is skipped."
    else:
        hours = int((moved - token.boundary).total_seconds() // 3600)
        title = verb = f"Postpone the stop by {hours} hour{'s' if hours != 1 else ''}"
        effect = f"This link moves that one stop to {token.local(moved)}."
        outcome = f"Done: it will be stopped at {token.local(moved)} instead of {when}."
    return render(
        "postpone.html", caller=None, csrf="", notices=[], active="", title=title, verb=verb,
        instance=token.instance, provider=token.provider, boundary=when, effect=effect, outcome=outcome,
        passed=token.boundary <= now, token=text, done=done,
    )


@router.get("/postpone/{token}")
async def show(token: str, request: Request) -> HTMLResponse:
    store: OverrideStore = request.app.state.overrides
    now = dt.datetime.now(dt.UTC)
    found = await service_of(request).run(_checked, store, token, now)
    return _page(found, token, now=now, done=False)


def _act(service: AgentService, store: OverrideStore, text: str, now: dt.datetime) -> PostponeToken:
    token = _checked(store, text, now)
    context = service.context
    with context.locks.hold(token.provider, [token.instance], timeout=context.lock_timeout):
        if not store.use_token(token.payload()):
            raise _gone("This link was used already; each postpone link works once.")
        store.move(token.provider, token.instance, token.boundary, token.moved_to, actor="link")
    action = "skip" if token.moved_to is None else "postpone"
    service.audit.note(actor="link", source="postpone", provider=token.provider, action=action,
                       instance=token.instance)
    return token


@router.post("/postpone/{token}")
async def act(token: str, request: Request) -> HTMLResponse:
    form = await request.form()
    if form.get("token") != token:
        raise _refused()
    service = service_of(request)
    now = dt.datetime.now(dt.UTC)
    found = await service.run(_act, service, request.app.state.overrides, token, now)
    return _page(found, token, now=now, done=True)

"""Sign-in and sign-out: ``/ui/login`` and ``/ui/logout``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from snoozebot.agent.auth import authorize
from snoozebot.agent.errors import ApiError
from snoozebot.agent.tokens import Role
from snoozebot.agent.ui.guard import Caller, UiRoute, form_of, ui_state, viewer
from snoozebot.agent.ui.render import render
from snoozebot.agent.ui.session import LOGIN_COOKIE, SESSION_COOKIE, new_nonce, same_secret

__all__ = ["router"]

router = APIRouter(route_class=UiRoute, include_in_schema=False)

_NOTICES = {
    "revoked": "Your session ended: its token was revoked. Sign in again.",
    "signed-out": "You are signed out.",
}
_LOGIN_SECONDS = 1800


def _safe_next(target: str | None) -> str:
    """Only pages of this UI are places to go after signing in (no open redirect)."""
    if not target or not target.startswith("/ui") or any(c in target for c in "\\\r\n\t"):
        return "/ui"
    return target


def _set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None
) -> None:
    """An HttpOnly, SameSite=Strict cookie for the UI's paths only (Secure over https)."""
    response.set_cookie(
        name, value, max_age=max_age, path="/ui", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )


def _sign_in_form(
    request: Request, *, target: str, error: str | None = None, notice: str | None = None, status: int = 200
) -> Response:
    nonce = new_nonce()
    response = render(
        "login.html", status=status, caller=None, nonce=nonce, next=_safe_next(target), error=error,
        notice=notice, active="login", notices=[], csrf="",
    )
    _set_cookie(response, request, LOGIN_COOKIE, nonce, _LOGIN_SECONDS)
    return response


@router.get("/login")
async def sign_in_page(request: Request, next: str = "/ui", notice: str = "") -> Response:
    return _sign_in_form(request, target=next, notice=_NOTICES.get(notice))


@router.post("/login")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    target = str(form.get("next") or "/ui")
    nonce = form.get("nonce")
    if not same_secret(request.cookies.get(LOGIN_COOKIE) or "", nonce if isinstance(nonce, str) else None):
        return _sign_in_form(
            request, target=target, status=403,
            error="This sign-in form expired or did not come from this agent. Try again.",
        )
    token = str(form.get("token") or "").strip()
    ui = ui_state(request)
    try:
        authorize(ui.tokens, token, Role.VIEWER)
    except ApiError:
        return _sign_in_form(
            request, target=target, status=401, error="That token is not valid, or it was revoked."
        )
    session = ui.sessions.create(token)
    response = RedirectResponse(_safe_next(target), status_code=303)
    _set_cookie(response, request, SESSION_COOKIE, session.id)
    response.delete_cookie(LOGIN_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def sign_out(request: Request, caller: Caller = Depends(viewer)) -> Response:
    await form_of(request, caller)
    ui_state(request).sessions.end(caller.session.id)
    response = RedirectResponse("/ui/login?notice=signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response

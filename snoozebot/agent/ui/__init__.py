"""The agent's web UI at ``/ui``: server-rendered pages over the same service as the REST API.

One module per job:

- :mod:`~snoozebot.agent.ui.session`: sessions and CSRF tokens (in memory, or in a shared store)
- :mod:`~snoozebot.agent.ui.guard`: who is calling and may they (the REST API's role checks)
- :mod:`~snoozebot.agent.ui.render`: Jinja2 templates (always escaped) and security headers
- :mod:`~snoozebot.agent.ui.calls`: plugin calls a page waits for only so long
- :mod:`~snoozebot.agent.ui.views`: what the pages show, as pure functions
- ``pages_*``: the routes; ``templates/`` and ``static/`` ship in the package

:func:`install_ui` mounts it on the agent's app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from snoozebot.agent.ui.guard import Interrupt, UiRoute, UiState, error_page
from snoozebot.agent.ui.session import SessionStore, SharedSessions

__all__ = ["UI_WAIT_SECONDS", "install_ui", "ui_router"]

UI_WAIT_SECONDS = 10.0
"""The longest a page waits for a plugin (less when the agent's plugin timeout is shorter)."""

STATIC = Path(__file__).with_name("static")
_STATIC_FILES = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}


def _static_router() -> APIRouter:
    router = APIRouter(route_class=UiRoute, include_in_schema=False)

    @router.get("/static/{name}")
    async def static(name: str) -> FileResponse:
        if name not in _STATIC_FILES:
            raise Interrupt(error_page(None, status=404, title="Not found", message="No such file."))
        return FileResponse(STATIC / name, media_type=_STATIC_FILES[name],
                            headers={"Cache-Control": "public, max-age=300"})

    return router


def ui_router() -> APIRouter:
    """Every UI route under ``/ui``."""
    from snoozebot.agent.ui import (
        pages_auth,
        pages_history,
        pages_instances,
        pages_overrides,
        pages_plugins,
        pages_savings,
    )

    router = APIRouter(include_in_schema=False)
    for each in (pages_auth.router, pages_plugins.router, pages_instances.router, pages_overrides.router,
                 pages_history.router, pages_savings.router, _static_router()):
        router.include_router(each, prefix="/ui")
    return router


def install_ui(app: FastAPI) -> None:
    """Mount the UI on the agent's ``app`` (after its service and token store are set)."""
    service = app.state.service
    store = app.state.store
    app.state.ui = UiState(
        service=service,
        tokens=app.state.tokens,
        wait_seconds=min(UI_WAIT_SECONDS, service.manager.timeout),
        sessions=SharedSessions(store) if store.shared else SessionStore(),  # docs/shared-state.md
    )
    app.include_router(ui_router())

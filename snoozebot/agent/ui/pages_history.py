"""The history page (``/ui/history``): the audit log, newest first, filtered."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from snoozebot.agent.ui.calls import bounded
from snoozebot.agent.ui.guard import Caller, UiRoute, page, ui_state, viewer
from snoozebot.audit import AuditEntry

__all__ = ["LIMITS", "router"]

router = APIRouter(route_class=UiRoute, include_in_schema=False)

LIMITS = (50, 200, 1000)
RESULTS = ("ok", "error", "pending")
FILTERS = ("provider", "instance", "action", "result")


@router.get("/history")
async def history(request: Request, caller: Caller = Depends(viewer)) -> Response:
    ui = ui_state(request)
    chosen = {key: request.query_params.get(key, "").strip()[:1024] for key in FILTERS}
    try:
        limit = int(request.query_params.get("limit", LIMITS[0]))
    except ValueError:
        limit = LIMITS[0]
    limit = limit if limit in LIMITS else LIMITS[0]

    def entries() -> list[AuditEntry]:
        return ui.service.audit.entries(limit=limit, **{k: v or None for k, v in chosen.items()})

    answer = await bounded(ui.service.run(entries), seconds=ui.wait_seconds, what="the audit log")
    providers = sorted(p.name for p in ui.service.loaded_statuses())
    return page(
        caller, "history.html", active="history", answer=answer, chosen=chosen, limit=limit,
        limits=LIMITS, results=RESULTS, providers=providers,
    )

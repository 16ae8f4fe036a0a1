"""Overrides on the instances page: the list of those ahead, and a snooze form for operators.

The list shows every snooze, postponed and skipped stop of the provider on
screen (docs/schedules.md, "Overrides"); the form keeps one instance out of
schedule and idle stops for a while, audited (source ``snooze``) with the
caller's token name, like ``POST .../snooze``.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from snoozebot.agent.ui.guard import Caller, UiRoute, UiState, forbidden, form_of, operator, ui_state
from snoozebot.overrides import OverrideRow, OverrideStore

__all__ = ["SNOOZE_CHOICES", "overrides_of", "router"]

router = APIRouter(route_class=UiRoute, include_in_schema=False)

SNOOZE_CHOICES = {
    "1h": "1 hour", "2h": "2 hours", "4h": "4 hours", "8h": "8 hours", "24h": "1 day", "72h": "3 days",
}
"""The snooze lengths the form offers."""


def _store(request: Request) -> OverrideStore:
    store: OverrideStore = request.app.state.overrides
    return store


async def overrides_of(ui: UiState, request: Request, provider: str | None) -> list[tuple[OverrideRow, str]]:
    """The provider's overrides still ahead, each with its description."""
    if provider is None:
        return []
    rows = await ui.service.run(_store(request).rows, dt.datetime.now(dt.UTC))
    return [(row, row.describe()) for row in rows if row.provider == provider]


@router.post("/instances/snooze")
async def snooze(request: Request, caller: Caller = Depends(operator)) -> Response:
    ui = ui_state(request)
    form = await form_of(request, caller)
    provider = str(form.get("provider") or "")[:100]
    instance_id = str(form.get("instance_id") or "")[:1024]
    length = str(form.get("length") or "")
    back = str(form.get("back") or "")[:1000]
    if not provider or not instance_id or length not in {*SNOOZE_CHOICES, "clear"}:
        raise forbidden(caller, "That is not a snooze this page offers.")
    store, actor = _store(request), caller.record.name

    def note(action: str) -> None:
        audit = ui.service.audit
        audit.note(actor=actor, source="snooze", provider=provider, action=action, instance=instance_id)

    def record() -> str:
        if length == "clear":
            if store.clear_snooze(provider, instance_id):
                note("unsnooze")
            return f"{instance_id}: snooze cleared."
        until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=int(length.removesuffix("h")))
        store.snooze(provider, instance_id, until, actor=actor)
        note("snooze")
        return f"{instance_id}: snoozed until {until.isoformat(timespec='minutes')}."

    caller.session.notify("ok", await ui.service.run(record))
    target = f"/ui/instances?{urlencode({'provider': provider})}"
    return RedirectResponse(f"{target}&{back}" if back else target, status_code=303)

"""The savings page (``/ui/savings``): hours and money per day by provider, and the top instances."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from snoozebot.agent.ui.calls import bounded
from snoozebot.agent.ui.guard import Caller, UiRoute, page, ui_state, viewer
from snoozebot.agent.ui.savings_views import bar_chart, money
from snoozebot.savings.figures import Figures, SavingsFigures

__all__ = ["DAYS", "TOP", "router", "savings_of"]

router = APIRouter(route_class=UiRoute, include_in_schema=False)

DAYS = 30
"""The page's window: the last 30 UTC days, today included."""
TOP = 10
"""Instances in the top list."""


def savings_of(request: Request) -> SavingsFigures:
    """The agent's savings figures (set by the app factory)."""
    figures: SavingsFigures = request.app.state.savings
    return figures


@router.get("/savings")
async def savings(request: Request, caller: Caller = Depends(viewer)) -> Response:
    ui = ui_state(request)
    figures = savings_of(request)
    answer = await bounded(ui.service.run(lambda: figures.page(days=DAYS)), seconds=ui.wait_seconds,
                           what="the savings journal")
    context: dict[str, Any] = {"answer": answer, "money": money, "days": DAYS}
    if answer.value is not None:
        context.update(_charts(answer.value))
    return page(caller, "savings.html", active="savings", **context)


def _charts(figures: Figures) -> dict[str, Any]:
    report = figures.report
    first = report.window.since.date()
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range(DAYS)]
    providers = sorted({c.provider for c in figures.days})
    table = {(c.day, c.provider): c for c in figures.days}
    return {
        "report": report,
        "top": report.rows[:TOP],
        "providers": providers,
        "per_day": [(d, cells) for d in days if any(cells := [table.get((d, p)) for p in providers])],
        "charts": [
            bar_chart("Money saved per day (USD)", figures.days, days=days, unit="USD", providers=providers),
            bar_chart("Hours snoozed per day", figures.days, days=days, unit="h", providers=providers),
        ],
    }

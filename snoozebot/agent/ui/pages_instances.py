"""The instances page (``/ui/instances``), its live rows, and stop/start for operators.

The table's rows are a fragment of their own (``/ui/instances/rows``) that
the page's script fetches again every few seconds, so states change on
screen while an action runs. Stop and start need a confirmation: the
script asks in a dialog; without script, the server asks on a page. The
Activity column shows each instance's last activity report
(``busy 3 min ago: cpu 73%``; docs/schedules.md#busy-aware-stops).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from snoozebot import sdk
from snoozebot.agent.ui.calls import Answer, bounded
from snoozebot.agent.ui.guard import (
    Caller,
    UiRoute,
    UiState,
    forbidden,
    form_of,
    operator,
    page,
    ui_state,
    viewer,
)
from snoozebot.agent.ui.pages_overrides import SNOOZE_CHOICES, overrides_of
from snoozebot.agent.ui.render import render
from snoozebot.agent.ui.views import ACTIONS, BUSY_STATES, InstanceFilter, actions_for
from snoozebot.results import ActionResult
from snoozebot.schedule.activity import ActivityStore

__all__ = ["router"]

router = APIRouter(route_class=UiRoute, include_in_schema=False)

STATES = [s.value for s in sdk.InstanceState]


def _provider(ui: UiState, asked: str | None) -> tuple[str | None, list[str]]:
    loaded = [s.name for s in ui.service.loaded_statuses()]
    if asked:
        return asked[:100], loaded
    return (loaded[0] if loaded else None), loaded


async def _rows(ui: UiState, provider: str | None, filt: InstanceFilter) -> Answer[list[sdk.Instance]]:
    if provider is None:
        return Answer(value=[])
    if filt.tag_error:
        return Answer(error=filt.tag_error, code="invalid_request")
    answer = await bounded(
        ui.list_instances(provider, filt.cloud_filters()),
        seconds=ui.wait_seconds,
        what=f"provider {provider!r}",
    )
    if answer.value is None:
        return answer
    return Answer(value=[i for i in answer.value if filt.matches(i)])


async def _activity(request: Request, provider: str | None) -> dict[str, str]:
    """The last activity report of each instance, as the Activity column shows it."""
    if provider is None:
        return {}
    store: ActivityStore = request.app.state.activity
    reports = await run_in_threadpool(store.for_provider, provider)
    now = dt.datetime.now(dt.UTC)
    return {iid: report.describe(now) for iid, report in reports.items()}


def _context(
    caller: Caller,
    provider: str | None,
    filt: InstanceFilter,
    answer: Answer[list[sdk.Instance]],
    activity: dict[str, str],
) -> dict[str, Any]:
    instances = answer.value or []
    return {
        "activity": activity,
        "provider": provider,
        "filter": filt,
        "answer": answer,
        "instances": instances,
        "actions_for": actions_for,
        "can_act": caller.may("operator"),
        "busy_states": BUSY_STATES,
        "back": urlencode(filt.query()),
    }


@router.get("/instances")
async def instances(request: Request, caller: Caller = Depends(viewer)) -> Response:
    ui = ui_state(request)
    provider, loaded = _provider(ui, request.query_params.get("provider"))
    filt = InstanceFilter.from_query(request.query_params)
    answer = await _rows(ui, provider, filt)
    return page(
        caller, "instances.html", active="instances", loaded=loaded, states=STATES,
        overrides=await overrides_of(ui, request, provider), snooze_choices=SNOOZE_CHOICES,
        **_context(caller, provider, filt, answer, await _activity(request, provider)),
    )


@router.get("/instances/rows")
async def rows(request: Request, caller: Caller = Depends(viewer)) -> Response:
    ui = ui_state(request)
    provider, _ = _provider(ui, request.query_params.get("provider"))
    filt = InstanceFilter.from_query(request.query_params)
    answer = await _rows(ui, provider, filt)
    context = _context(caller, provider, filt, answer, await _activity(request, provider))
    return render("_rows.html", caller=caller, csrf=caller.session.csrf, **context)


def _instances_url(provider: str, back: str) -> str:
    """The instances page of ``provider`` with the filter query ``back`` (already encoded)."""
    url = f"/ui/instances?{urlencode({'provider': provider})}"
    return f"{url}&{back}" if back else url


def _outcome(result: ActionResult, name: str, action: str) -> tuple[str, str]:
    """The banner after an action: what was asked, never a state that the table may already contradict."""
    if result.failure is None:
        return "ok", f"{name}: {action} requested; the table shows its state as the cloud reports it."
    return "error", f"{name}: {result.failure.message} ({result.failure.code})"


@router.post("/instances/action")
async def act(request: Request, caller: Caller = Depends(operator)) -> Response:
    ui = ui_state(request)
    form = await form_of(request, caller)
    provider = str(form.get("provider") or "")[:100]
    instance_id = str(form.get("instance_id") or "")[:1024]
    action = str(form.get("action") or "")
    label = str(form.get("label") or instance_id)[:300]
    back = str(form.get("back") or "")[:1000]
    if action not in ACTIONS or not provider or not instance_id:
        raise forbidden(caller, "That is not an action this page offers.")
    if form.get("confirmed") != "yes":
        return page(
            caller, "confirm.html", active="instances", action="/ui/instances/action",
            fields={"provider": provider, "instance_id": instance_id, "action": action, "label": label,
                    "back": back},
            question=f"{action.capitalize()} {label} ({provider})?", verb=action.capitalize(),
            back=_instances_url(provider, back),
        )
    answer = await bounded(
        ui.service.act(provider, instance_id, action="stop" if action == "stop" else "start",
                       actor=caller.record.name, hibernate=False, dry_run=False),
        seconds=ui.wait_seconds,
        what=f"{action} of {label}",
    )
    if answer.value is not None:
        caller.session.notify(*_outcome(answer.value, label, action))
    else:
        caller.session.notify("error", f"Could not {action} {label}: {answer.error}")
    return RedirectResponse(_instances_url(provider, back), status_code=303)

"""The overview (``/ui``) and the plugins page (``/ui/plugins``, load and unload for admins)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from snoozebot.agent.ui.calls import Answer, bounded
from snoozebot.agent.ui.guard import Caller, UiRoute, UiState, admin, form_of, page, ui_state, viewer
from snoozebot.agent.ui.pages_savings import savings_of
from snoozebot.agent.ui.savings_views import money
from snoozebot.agent.ui.views import PluginRow, StateCounts, plugin_row, state_counts
from snoozebot.host.discovery import DiscoveredPlugin
from snoozebot.host.requirements import check_plugins

__all__ = ["router"]

router = APIRouter(route_class=UiRoute, include_in_schema=False)


async def _counts(ui: UiState, provider: str) -> Answer[StateCounts]:
    answer = await bounded(
        ui.list_instances(provider, {}), seconds=ui.wait_seconds, what=f"provider {provider!r}"
    )
    if answer.value is None:
        return Answer(error=answer.error, code=answer.code, timed_out=answer.timed_out)
    return Answer(value=state_counts(answer.value))


@router.get("")
async def overview(request: Request, caller: Caller = Depends(viewer)) -> Response:
    ui = ui_state(request)
    statuses = ui.service.loaded_statuses()
    month = savings_of(request).this_month  # asked beside the listings, not after them
    saving = asyncio.ensure_future(bounded(ui.service.run(month), seconds=ui.wait_seconds,
                                           what="the savings journal"))
    counts = await asyncio.gather(*(_counts(ui, s.name) for s in statuses))
    saved = await saving
    rows = [
        (plugin_row(s, failure=ui.load_failures.get(s.name)), c)
        for s, c in zip(statuses, counts, strict=True)
    ]
    known = [c.value for c in counts if c.value is not None]
    total = StateCounts(*(sum(getattr(c, f) for c in known) for f in ("running", "stopped", "other")))
    return page(caller, "overview.html", active="overview", rows=rows, total=total, saved=saved, money=money)


def _problems(plugins: Sequence[DiscoveredPlugin]) -> dict[str, list[str]]:
    """Requirement problems from metadata alone (no worker started)."""
    return {r.name: r.problems for r in check_plugins(plugins)}


async def _plugin_rows(ui: UiState) -> list[PluginRow]:
    plugins = await ui.service.rescan()
    problems = await ui.service.run(_problems, plugins)
    loaded = set(ui.service.manager.loaded_names())
    return [
        plugin_row(
            ui.service.manager.status(p, loaded),
            failure=ui.load_failures.get(p.name),
            problems=[x for x in problems.get(p.name, []) if x != p.error],
        )
        for p in plugins
    ]


@router.get("/plugins")
async def plugins(request: Request, caller: Caller = Depends(viewer)) -> Response:
    ui = ui_state(request)
    answer = await bounded(_plugin_rows(ui), seconds=ui.wait_seconds, what="plugin discovery")
    return page(caller, "plugins.html", active="plugins", answer=answer)


def _plugin_name(value: object) -> str:
    return str(value or "").strip()[:100]


@router.post("/plugins/load")
async def load(request: Request, caller: Caller = Depends(admin)) -> Response:
    ui = ui_state(request)
    name = _plugin_name((await form_of(request, caller)).get("plugin"))
    answer = await bounded(ui.service.load(name), seconds=ui.wait_seconds, what=f"loading {name!r}")
    if answer.value is not None:
        ui.load_failures.pop(name, None)
        st = answer.value.status
        caller.session.notify("ok", f"Loaded {name} {st.plugin_version or ''} (plugin API {st.api_version}).")
        if answer.value.also_loaded:
            caller.session.notify("ok", f"Also loaded, since {name} requires them: "
                                        f"{', '.join(answer.value.also_loaded)}.")
        if problem := answer.value.config_error:
            caller.session.notify("error", f"{name} is loaded but not configured: {problem}")
    else:
        if answer.code and answer.code != "plugin_not_found" and not answer.timed_out:
            ui.load_failures[name] = answer.code
        caller.session.notify("error", f"Could not load {name}: {answer.error}")
    return RedirectResponse("/ui/plugins", status_code=303)


@router.post("/plugins/unload")
async def unload(request: Request, caller: Caller = Depends(admin)) -> Response:
    ui = ui_state(request)
    form = await form_of(request, caller)
    name = _plugin_name(form.get("plugin"))
    if form.get("confirmed") != "yes":
        return page(
            caller, "confirm.html", active="plugins", action="/ui/plugins/unload", fields={"plugin": name},
            question=f"Unload {name}? Its worker stops, and calls in flight fail.", verb="Unload",
            back="/ui/plugins",
        )
    answer = await bounded(ui.service.unload(name), seconds=ui.wait_seconds, what=f"unloading {name!r}")
    if answer.ok:
        ui.load_failures.pop(name, None)
        caller.session.notify("ok", f"Unloaded {name}.")
    else:
        caller.session.notify("error", f"Could not unload {name}: {answer.error}")
    return RedirectResponse("/ui/plugins", status_code=303)


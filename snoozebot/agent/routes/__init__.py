"""The agent's routers, one module per resource; :func:`api_routers` lists them."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["api_routers"]


def api_routers() -> list[APIRouter]:
    """Every router of the REST API, in mounting order."""
    from snoozebot.agent.routes import activity, instances, leader, plugins, snooze, system, tokens

    return [
        system.router,
        plugins.router,
        snooze.router,
        instances.router,
        activity.router,
        tokens.router,
        leader.router,
    ]

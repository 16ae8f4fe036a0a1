"""The agent's routers, one module per resource; :func:`api_routers` lists them."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["api_routers"]


def api_routers() -> list[APIRouter]:
    """Every router of the REST API, in mounting order."""
    from snoozebot.agent.routes import instances, leader, plugins, system, tokens

    return [system.router, plugins.router, instances.router, tokens.router, leader.router]

"""Dependencies shared by the routers: the service, and the documented error responses."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from snoozebot.agent.models import ErrorBody
from snoozebot.agent.service import AgentService

__all__ = ["errors", "service_of"]


def service_of(request: Request) -> AgentService:
    """The app's :class:`AgentService` (a plain call, not a dependency: no per-request solving)."""
    service: AgentService = request.app.state.service
    return service


_DESCRIPTIONS = {
    400: "Malformed JSON body, or an instance id with a control character.",
    401: "No bearer token, or an unknown or revoked one.",
    403: "The token's role is too low.",
    404: "Unknown provider, plugin or instance.",
    409: "Conflict: `not_loaded`, `required_by_others` (unload) or `token_exists`.",
    413: "Request body over 1 MiB.",
    415: "The body was not sent as JSON.",
    422: "Invalid parameters or body.",
    502: "The cloud answered with an error (its code is in `cloud_code`).",
    503: "The plugin is unavailable (crashed, hung, failed to load, shutting down).",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each listed status with the JSON error body."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}

"""``/api/plugins``: installed and loaded providers; load and unload (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from snoozebot.agent.auth import require
from snoozebot.agent.models import (
    LoadedPluginModel,
    PluginRequest,
    PluginStatusModel,
    UnloadedPluginModel,
    UnloadRequest,
)
from snoozebot.agent.routes.deps import errors, service_of
from snoozebot.agent.tokens import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/plugins", tags=["plugins"])

_viewer = [Depends(require(Role.VIEWER))]
_admin = [Depends(require(Role.ADMIN))]


@router.get(
    "",
    response_model=list[PluginStatusModel],
    dependencies=_viewer,
    summary="Loaded plugins and their status",
    responses=errors(401, 403),
)
async def loaded(request: Request) -> list[dict[str, Any]]:
    return [s.to_dict() for s in service_of(request).loaded_statuses()]


@router.get(
    "/discover",
    response_model=list[PluginStatusModel],
    dependencies=_viewer,
    summary="Installed providers, scanned now",
    responses=errors(401, 403),
)
async def discover(request: Request) -> list[dict[str, Any]]:
    return [s.to_dict() for s in await service_of(request).discover()]


@router.post(
    "/load",
    response_model=LoadedPluginModel,
    dependencies=_admin,
    summary="Load a plugin (and the providers it requires): start, check, mark loaded",
    responses=errors(400, 401, 403, 404, 413, 415, 422, 503),
)
async def load(body: PluginRequest, request: Request) -> dict[str, Any]:
    result = await service_of(request).load(body.plugin)
    return {**result.status.to_dict(), "config_error": result.config_error, "also_loaded": result.also_loaded}


@router.post(
    "/unload",
    response_model=UnloadedPluginModel,
    dependencies=_admin,
    summary="Mark a plugin unloaded and stop its worker",
    responses=errors(400, 401, 403, 404, 409, 413, 415, 422),
)
async def unload(body: UnloadRequest, request: Request) -> dict[str, Any]:
    result = await service_of(request).unload(body.plugin, force=body.force)
    return {**result.status.to_dict(), "also_unloaded": result.also_unloaded}


@router.get(
    "/{name}",
    response_model=PluginStatusModel,
    dependencies=_viewer,
    summary="One installed plugin: versions, status, last error",
    responses=errors(401, 403, 404),
)
async def plugin(name: Annotated[str, Path(max_length=100)], request: Request) -> dict[str, Any]:
    return service_of(request).status(await service_of(request).find(name)).to_dict()

"""``/healthz`` (no token), ``/metrics`` (Prometheus) and ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from snoozebot.agent.auth import require
from snoozebot.agent.models import Health
from snoozebot.agent.routes.deps import errors, service_of
from snoozebot.agent.tokens import Role

__all__ = ["router"]

router = APIRouter(tags=["system"])

_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", response_model=Health, summary="Liveness check (no token needed)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    dependencies=[Depends(require(Role.VIEWER))],
    response_class=Response,
    responses={200: {"content": {_PROMETHEUS: {"schema": {"type": "string"}}}}, **errors(401, 403)},
)
async def metrics(request: Request) -> Response:
    body = await service_of(request).run(request.app.state.metrics.exposition)
    return Response(body, media_type=_PROMETHEUS)


@router.get(
    "/openapi.json",
    summary="This API's OpenAPI schema",
    dependencies=[Depends(require(Role.VIEWER))],
    responses=errors(401, 403),
)
async def openapi(request: Request) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema

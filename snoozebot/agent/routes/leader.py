"""``GET /api/leader`` (viewer): which agent leads the schedule runs (docs/rest.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from snoozebot.agent.auth import require
from snoozebot.agent.leader import leader_of
from snoozebot.agent.routes.deps import errors, service_of
from snoozebot.agent.tokens import Role

__all__ = ["router"]

class LeaderInfo(BaseModel):
    """The leading agent: its machine, process and when it took the lead."""

    host: str = Field(examples=["agent-a"])
    pid: int = Field(examples=[4242])
    since: str = Field(examples=["2026-12-01T09:00:00+00:00"])


class LeaderModel(BaseModel):
    """Body of ``GET /api/leader``."""

    leader: LeaderInfo | None
    is_self: bool = Field(alias="self", description="True when the answering agent is the leader.")


router = APIRouter(prefix="/api", tags=["system"], dependencies=[Depends(require(Role.VIEWER))])


@router.get(
    "/leader",
    response_model=LeaderModel,
    summary="The agent that leads the schedule runs (--schedule-every), and whether it is this one",
    responses=errors(401, 403, 503),
)
async def leader(request: Request) -> dict[str, Any]:
    scheduler = request.app.state.scheduler
    current = await service_of(request).run(leader_of, request.app.state.store)
    return {"leader": current, "self": bool(scheduler is not None and scheduler.leading)}

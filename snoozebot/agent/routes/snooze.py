"""``/api/providers/{provider}/instances/{id}/snooze``: keep an instance out of stops until a time (operator).

``POST {"until": ISO8601}`` sets the snooze override, ``DELETE`` removes it;
both are audited (source ``snooze``, actor the token's name). The instance
must exist: it is looked up through its provider first (docs/rest.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from snoozebot.agent.auth import require
from snoozebot.agent.errors import ApiError
from snoozebot.agent.routes.deps import errors, service_of
from snoozebot.agent.routes.instances import InstanceId, Provider, _checked
from snoozebot.agent.tokens import Role, TokenRecord
from snoozebot.overrides import OverrideStore

__all__ = ["SnoozeModel", "SnoozeRequest", "router"]

router = APIRouter(prefix="/api/providers/{provider}/instances", tags=["instances"])
Operator = Annotated[TokenRecord, Depends(require(Role.OPERATOR))]
_errors = errors(400, 401, 403, 404, 409, 413, 415, 422, 502, 503)


class SnoozeRequest(BaseModel):
    """Body of ``POST .../snooze``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"until": "2026-11-24T08:00:00Z"}]}
    )
    until: AwareDatetime = Field(description="ISO 8601 date-time with an offset or Z, in the future.")


class SnoozeModel(BaseModel):
    """An instance's snooze override."""

    id: str
    provider: str
    snooze_until: str | None = Field(description="UTC, ISO 8601; null once cleared.")


def _store(request: Request) -> OverrideStore:
    store: OverrideStore = request.app.state.overrides
    return store


async def _existing(request: Request, provider: str, instance_id: str) -> str:
    """The instance's id as its provider knows it (404 when there is none)."""
    return (await service_of(request).instance(provider, _checked(instance_id))).id


@router.post(
    "/{instance_id:path}/snooze",
    response_model=SnoozeModel,
    summary="Keep an instance out of schedule and idle stops until a time; audited",
    responses=_errors,
)
async def snooze(
    provider: Provider, instance_id: InstanceId, body: SnoozeRequest, caller: Operator, request: Request
) -> dict[str, Any]:
    until = body.until.astimezone(dt.UTC)
    if until <= dt.datetime.now(dt.UTC):
        raise ApiError(422, "invalid_request", f"until {body.until.isoformat()} has already passed")
    iid = await _existing(request, provider, instance_id)
    service = service_of(request)

    def record() -> None:
        _store(request).snooze(provider, iid, until, actor=caller.name)
        service.audit.note(
            actor=caller.name, source="snooze", provider=provider, action="snooze", instance=iid
        )

    await service.run(record)
    return {"id": iid, "provider": provider, "snooze_until": until.isoformat(timespec="seconds")}


@router.delete(
    "/{instance_id:path}/snooze",
    response_model=SnoozeModel,
    summary="Remove an instance's snooze; audited",
    responses=_errors,
)
async def unsnooze(
    provider: Provider, instance_id: InstanceId, caller: Operator, request: Request
) -> dict[str, Any]:
    iid = await _existing(request, provider, instance_id)
    service = service_of(request)

    def clear() -> None:
        if _store(request).clear_snooze(provider, iid):
            service.audit.note(
                actor=caller.name, source="snooze", provider=provider, action="unsnooze", instance=iid
            )

    await service.run(clear)
    return {"id": iid, "provider": provider, "snooze_until": None}

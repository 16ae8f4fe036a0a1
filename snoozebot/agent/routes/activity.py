"""``POST /api/instances/{provider}/{id}/activity``: an instance reports its readings (docs/rest.md).

Sent by ``snoozebot idle check --report`` on the instance. Needs a
``reporter`` token (which can do nothing else, reads included) or an
operator's. The agent checks that the provider knows the instance (404
otherwise), stamps the report with its own clock, and keeps it as the
instance's last one in its state directory, where ``schedule run`` on this
machine reads it for ``unless_busy`` (docs/schedules.md#busy-aware-stops).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from snoozebot.agent.auth import require
from snoozebot.agent.routes.deps import errors, service_of
from snoozebot.agent.tokens import Role
from snoozebot.schedule.activity import ActivityReport, ActivityStore

__all__ = ["ActivityModel", "ActivityRequest", "ReadingModel", "router"]

router = APIRouter(prefix="/api/instances/{provider}", tags=["activity"])

Provider = Annotated[str, Path(max_length=100, description="Provider name, e.g. aws.")]
InstanceId = Annotated[
    str, Path(min_length=1, max_length=1024, description="Instance id; may contain '/' (ZONE/NAME).")
]
ReadingName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class ReadingModel(BaseModel):
    """One reading as ``idle check --json`` prints it."""

    model_config = ConfigDict(extra="forbid")
    value: float | None = Field(description="The measurement; null when it could not be taken.")
    unit: str = Field(max_length=16, examples=["%"])
    threshold: float | None = Field(None, description="The highest idle value; null when ignored.")
    idle: bool
    error: str | None = Field(None, max_length=500)


class ActivityRequest(BaseModel):
    """What ``idle check --report`` sends: its verdict and readings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "idle": False,
                    "idle_since": None,
                    "readings": {
                        "cpu": {"value": 73.0, "unit": "%", "threshold": 10.0, "idle": False, "error": None}
                    },
                }
            ]
        },
    )
    idle: bool = Field(description="The verdict: every reading at or under its threshold.")
    idle_since: dt.datetime | None = Field(None, description="Since when the instance is idle (with offset).")
    readings: dict[ReadingName, ReadingModel | None] = Field(default_factory=dict, max_length=16)


class ActivityModel(ActivityRequest):
    """The report as the agent keeps it: stamped with the agent's clock."""

    provider: str
    id: str
    at: dt.datetime = Field(description="When the agent recorded it (UTC).")


@router.post(
    "/{instance_id:path}/activity",
    response_model=ActivityModel,
    dependencies=[Depends(require(Role.REPORTER))],
    summary="Report an instance's activity (reporter or operator); the agent keeps the last one",
    responses=errors(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
)
async def report_activity(
    provider: Provider, instance_id: InstanceId, body: ActivityRequest, request: Request
) -> dict[str, Any]:
    instance = await service_of(request).instance(provider, instance_id)
    since = body.idle_since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    report = ActivityReport(
        provider=provider,
        instance_id=instance.id,
        at=dt.datetime.now(dt.UTC),
        idle=body.idle,
        readings={k: (v.model_dump() if v is not None else None) for k, v in body.readings.items()},
        idle_since=since,
    )
    store: ActivityStore = request.app.state.activity
    await run_in_threadpool(store.record, report)
    return report.to_dict()

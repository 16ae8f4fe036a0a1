"""``/api/providers/{provider}/instances``: list, info (viewer); stop, start (operator).

``{instance_id}`` may contain ``/`` (GCP ``ZONE/NAME``, Azure ``RG/NAME``); one
with a control character (NUL, ESC, newline, ...) is refused with 400 before
any plugin sees it (docs/rest.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from snoozebot.agent.auth import require
from snoozebot.agent.errors import ApiError, api_error_for
from snoozebot.agent.models import ActionResultModel, InstanceModel, StartRequest, StopRequest
from snoozebot.agent.routes.deps import errors, service_of
from snoozebot.agent.tokens import Role, TokenRecord
from snoozebot.errors import provider_error_from_wire
from snoozebot.results import ActionResult
from snoozebot.text import has_control, one_line

__all__ = ["router"]

router = APIRouter(prefix="/api/providers/{provider}/instances", tags=["instances"])

Provider = Annotated[str, Path(max_length=100, description="Provider name, e.g. aws.")]
InstanceId = Annotated[
    str, Path(min_length=1, max_length=1024, description="Instance id; may contain '/' (ZONE/NAME).")
]
Operator = Annotated[TokenRecord, Depends(require(Role.OPERATOR))]
_viewer = [Depends(require(Role.VIEWER))]
_read_errors = errors(401, 403, 404, 409, 422, 502, 503)
_info_errors = errors(400, 401, 403, 404, 409, 422, 502, 503)
_write_errors = errors(400, 401, 403, 404, 409, 413, 415, 422, 502, 503)


def _filters(pairs: list[str]) -> dict[str, str]:
    filters: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ApiError(422, "invalid_request", f"filter must be KEY=VALUE, got {pair!r}")
        filters[key] = value
    return filters


def _checked(instance_id: str) -> str:
    if has_control(instance_id):
        message = f"an instance id must not contain control characters: {one_line(instance_id)}"
        raise ApiError(400, "bad_request", message)
    return instance_id


def _answer(result: ActionResult) -> dict[str, Any]:
    if result.failure is not None:
        raise api_error_for(provider_error_from_wire(result.failure.to_wire()))
    return {**result.to_dict(), "instance": result.instance.to_dict() if result.instance else None}


@router.get(
    "",
    response_model=list[InstanceModel],
    dependencies=_viewer,
    summary="Instances of a provider, optionally filtered by tag/label equality",
    responses=_read_errors,
)
async def list_instances(
    provider: Provider,
    request: Request,
    filter: Annotated[
        list[str], Query(description="KEY=VALUE tag/label equality, repeatable.", examples=["team=ml"])
    ] = [],  # noqa: B006 - FastAPI copies defaults
) -> list[dict[str, Any]]:
    return [i.to_dict() for i in await service_of(request).list_instances(provider, _filters(filter))]


@router.post(
    "/{instance_id:path}/stop",
    response_model=ActionResultModel,
    summary="Stop (or hibernate) an instance; audited with the token's name",
    responses=_write_errors,
)
async def stop(
    provider: Provider,
    instance_id: InstanceId,
    caller: Operator,
    request: Request,
    body: StopRequest | None = None,
) -> dict[str, Any]:
    result = await service_of(request).act(
        provider,
        _checked(instance_id),
        action="stop",
        actor=caller.name,
        hibernate=body.hibernate if body else False,
        dry_run=body.dry_run if body else False,
    )
    return _answer(result)


@router.post(
    "/{instance_id:path}/start",
    response_model=ActionResultModel,
    summary="Start (or resume) an instance, and with ?wait=running wait until it runs; audited",
    responses=_write_errors,
)
async def start(  # noqa: PLR0917 - FastAPI passes parameters by keyword
    provider: Provider,
    instance_id: InstanceId,
    caller: Operator,
    request: Request,
    body: StartRequest | None = None,
    wait: Annotated[
        Literal["running"] | None,
        Query(description="`running`: answer once the instance runs (within the agent's --timeout)."),
    ] = None,
) -> dict[str, Any]:
    result = await service_of(request).act(
        provider,
        _checked(instance_id),
        action="start",
        actor=caller.name,
        hibernate=False,
        dry_run=body.dry_run if body else False,
    )
    if wait and result.ok and not (body and body.dry_run):
        result = await service_of(request).wait_running(provider, result)
    return _answer(result)


@router.get(
    "/{instance_id:path}",
    response_model=InstanceModel,
    dependencies=_viewer,
    summary="One instance",
    responses=_info_errors,
)
async def instance(provider: Provider, instance_id: InstanceId, request: Request) -> dict[str, Any]:
    return (await service_of(request).instance(provider, _checked(instance_id))).to_dict()

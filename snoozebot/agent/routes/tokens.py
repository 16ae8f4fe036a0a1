"""``/api/tokens``: list, create and revoke agent tokens (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from snoozebot.agent.auth import require
from snoozebot.agent.errors import ApiError
from snoozebot.agent.models import TokenCreatedModel, TokenCreateRequest, TokenModel
from snoozebot.agent.routes.deps import errors, service_of
from snoozebot.agent.tokens import Role, TokenExists, TokenStore, UnknownToken

__all__ = ["router"]

router = APIRouter(prefix="/api/tokens", tags=["tokens"], dependencies=[Depends(require(Role.ADMIN))])



def _store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.tokens
    return store


@router.get("", response_model=list[TokenModel], summary="Tokens (names and roles; never the tokens)",
            responses=errors(401, 403))
async def list_tokens(request: Request) -> list[dict[str, str]]:
    return [r.public() for r in await service_of(request).run(_store(request).list)]


@router.post(
    "",
    response_model=TokenCreatedModel,
    status_code=201,
    summary="Create a token; the answer is the only time it is shown",
    responses=errors(400, 401, 403, 409, 413, 415, 422),
)
async def create_token(body: TokenCreateRequest, request: Request) -> dict[str, Any]:
    store = _store(request)
    try:
        token = await service_of(request).run(lambda: store.create(name=body.name, role=body.role))
    except TokenExists as exc:
        raise ApiError(409, exc.code, exc.message) from None
    record = store.verify(token)
    assert record is not None
    return {**record.public(), "token": token}


@router.delete("/{name}", response_model=TokenModel, summary="Revoke a token; it stops working at once",
               responses=errors(401, 403, 404))
async def revoke_token(
    name: Annotated[str, Path(max_length=64)], request: Request
) -> dict[str, str]:
    try:
        return (await service_of(request).run(_store(request).revoke, name)).public()
    except UnknownToken as exc:
        raise ApiError(404, exc.code, exc.message) from None

"""JSON error bodies, and the one place that maps failures to HTTP statuses.

Every error the agent answers is ``{"error": {"code", "message"}}`` (plus
``cloud_code`` for cloud errors and ``plugin`` for plugin problems):

=====================================  ======  ==========================
failure                                status  code
=====================================  ======  ==========================
malformed JSON body                    400     ``malformed_json``
bad query/body/path values             422     ``invalid_request``
body sent as something else than JSON  415     ``unsupported_media_type``
no or unknown token                    401     ``unauthorized``
role too low                           403     ``forbidden``
unknown provider, plugin or route      404     ``plugin_not_found``, ...
instance unknown to the cloud          404     ``instance_not_found``
installed but not loaded               409     ``not_loaded``
body over the size limit               413     ``payload_too_large``
cloud error                            502     the sdk code + ``cloud_code``
plugin crashed, hung, unloaded, ...    503     the host error's code
state file damaged or unwritable       503     ``state_damaged``, ...
=====================================  ======  ==========================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from snoozebot import sdk
from snoozebot.errors import (
    LockTimeout,
    PluginNotFound,
    PluginUnavailable,
    SnoozebotError,
    StateUnavailable,
    UsageError,
)

__all__ = ["ApiError", "api_error_for", "error_response", "install_error_handlers"]

log = logging.getLogger("snoozebot.agent")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


class ApiError(Exception):
    """An error the agent answers with ``status`` and a JSON error body."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = {k: v for k, v in extra.items() if v is not None}
        self.headers: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response outside of exception handling (e.g. in middleware)."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def api_error_for(exc: Exception) -> ApiError:
    """The HTTP form of a host or provider failure."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PluginNotFound):
        return ApiError(404, exc.code, exc.message, plugin=exc.plugin)
    if isinstance(exc, PluginUnavailable):
        return ApiError(503, exc.code, exc.message, plugin=exc.plugin)
    if isinstance(exc, sdk.InstanceNotFound):
        return ApiError(404, exc.code, exc.message, cloud_code=exc.cloud_code)
    if isinstance(exc, sdk.ConfigurationError):
        return ApiError(503, exc.code, exc.message, cloud_code=exc.cloud_code)
    if isinstance(exc, sdk.ProviderError):
        return ApiError(502, exc.code, exc.message, cloud_code=exc.cloud_code)
    if isinstance(exc, UsageError):
        return ApiError(400, exc.code, exc.message)
    if isinstance(exc, LockTimeout):
        return ApiError(503, exc.code, exc.message)
    if isinstance(exc, StateUnavailable):
        log.error("%s", exc.message)  # the operator must hear of it, not only the caller
        return ApiError(503, exc.code, exc.message)
    if isinstance(exc, SnoozebotError):
        return ApiError(502, exc.code, exc.message)
    raise TypeError(f"not an expected failure: {exc!r}")


def _validation_message(request: Request, exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed_json", "the request body is not valid JSON"
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if any(tuple(e.get("loc", ())) == ("body",) for e in errors) and not media.endswith("json"):
        return 415, "unsupported_media_type", (
            f"send the body as JSON (Content-Type: application/json), not {media}"
        )
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    text = str(first.get("msg", "invalid value"))
    message = f"{where}: {text}" if where else text
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return 422, "invalid_request", message + more


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    err = api_error_for(exc)
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, code, message = _validation_message(request, exc)
    return error_response(status, code, message)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s: %r", request.method, request.url.path, exc, exc_info=exc)
    return error_response(500, "internal", "internal error in the agent; see its log")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error answer a JSON error body."""
    for exc_type in (ApiError, SnoozebotError, sdk.ProviderError):
        app.add_exception_handler(exc_type, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)

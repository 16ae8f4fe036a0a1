"""Compute Engine errors as Snoozebot errors.

HTTP errors arrive in Google's JSON error format
(``{"error": {"code", "message", "errors": [{"reason", ...}]}}``):

- 404 -> :class:`InstanceNotFound`; 403 -> :class:`PermissionDenied`, except the
  rate-limit reasons Google also sends with 403, which are retried;
- 429, 5xx and reset connections are retried by :mod:`snoozebot.retry`
  (backoff and jitter) and end as :class:`Throttled` when they persist;
- 401 -> :class:`ConfigurationError` (the credentials were refused);
- 400, 409, 412 -> :class:`InvalidInstanceState` when the reason says the resource
  is busy or not ready, else a plain :class:`ProviderError` with Google's message.

A finished operation that carries an ``error`` becomes a :class:`ProviderError`
named after the operation's first error code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from snoozebot.sdk import (
    ConfigurationError,
    InstanceNotFound,
    InvalidInstanceState,
    PermissionDenied,
    ProviderError,
)

__all__ = ["cloud_code", "is_retryable", "map_error", "operation_error"]

_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
_NOT_READY_REASONS = {"resourceNotReady", "resourceInUseByAnotherResource", "conditionNotMet"}


def _details(exc: BaseException) -> tuple[int | None, str | None, str]:
    """HTTP status, first error reason and message of a googleapiclient HttpError."""
    resp = getattr(exc, "resp", None)
    status = getattr(resp, "status", None)
    if status is None:
        return None, None, str(exc)
    content = getattr(exc, "content", b"")
    try:
        body = json.loads(content.decode("utf-8", "replace") if isinstance(content, bytes) else content)
        error = body["error"]
        reasons = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
        return int(status), (reasons[0] if reasons else None), str(error.get("message") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return int(status), None, getattr(resp, "reason", "") or f"HTTP {status}"


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, rate-limit 403s, and reset connections are worth another try."""
    status, reason, _ = _details(exc)
    if status is None:
        # A reset or aborted connection is transient; a refused one or a timeout is not
        # (retrying a server that does not answer only multiplies the wait).
        return isinstance(exc, ConnectionError) and not isinstance(exc, ConnectionRefusedError)
    return status == 429 or status >= 500 or (status == 403 and reason in _RATE_LIMIT_REASONS)


def cloud_code(exc: BaseException) -> str | None:
    """Google's error reason (``notFound``, ``rateLimitExceeded``, ...) or the HTTP status."""
    status, reason, _ = _details(exc)
    if reason:
        return reason
    return str(status) if status is not None else None


def map_error(exc: BaseException, what: str) -> BaseException:
    """The Snoozebot error for an HTTP failure of the call described by ``what``."""
    status, reason, message = _details(exc)
    if status is None:
        return exc
    text = f"{what}: {message}" if message else what
    code = reason or str(status)
    if status == 404:
        return InstanceNotFound(text, cloud_code=code)
    if status == 403:
        return PermissionDenied(text, cloud_code=code)
    if status == 401:
        return ConfigurationError(f"{text} (the credentials were refused)", cloud_code=code)
    if status in (400, 409, 412) and reason in _NOT_READY_REASONS:
        return InvalidInstanceState(text, cloud_code=code)
    return ProviderError(text, cloud_code=code)


def operation_error(operation: Mapping[str, Any], what: str) -> ProviderError | None:
    """The failure a finished operation reports in its ``error`` field, if any."""
    errors = (operation.get("error") or {}).get("errors") or []
    if not errors and not operation.get("error"):
        return None
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = str(first.get("code") or operation.get("httpErrorStatusCode") or "OPERATION_FAILED")
    message = first.get("message") or operation.get("httpErrorMessage") or "the operation failed"
    return ProviderError(f"{what} failed: {message}", cloud_code=code)

"""Azure SDK exceptions as snoozebot provider errors, and what is worth retrying.

=====================================  =========================================
Azure                                  snoozebot
=====================================  =========================================
404 ResourceNotFound, ResourceGroup…   InstanceNotFound
404 SubscriptionNotFound               ConfigurationError
401, credential unavailable            ConfigurationError (with a hint)
403 AuthorizationFailed                PermissionDenied
409 OperationNotAllowed, Conflict      InvalidInstanceState
429, 5xx, a broken response            retried (:mod:`snoozebot.retry`), then Throttled
unreachable endpoint                   ProviderError
=====================================  =========================================
"""

from __future__ import annotations

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from snoozebot.sdk import (
    ConfigurationError,
    InstanceNotFound,
    InvalidInstanceState,
    PermissionDenied,
    ProviderError,
)

__all__ = ["cloud_code", "describe", "is_retryable", "provider_error"]

_CREDENTIALS_HINT = (
    "sign in with `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET "
    "or a managed identity (DefaultAzureCredential); use -o credentials=anonymous only for emulators"
)


def cloud_code(exc: BaseException) -> str | None:
    """ARM's error code (``ResourceNotFound``, ``AuthorizationFailed``, ...) when there is one."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return str(code) if code else None


def describe(exc: BaseException) -> str:
    """One line: ARM's ``code: message`` when the body had them, else the SDK's message."""
    error = getattr(exc, "error", None)
    code, message = getattr(error, "code", None), getattr(error, "message", None)
    if code and message:
        return f"{code}: {message}"
    text = getattr(exc, "message", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """Throttling (429), server errors (5xx) and responses broken in transit."""
    if isinstance(exc, ServiceResponseError):
        return True
    status = _status(exc)
    return isinstance(exc, HttpResponseError) and status is not None and (status == 429 or status >= 500)


def provider_error(exc: AzureError, *, subject: str) -> ProviderError:
    """The provider error for an Azure failure concerning ``subject`` (an id or a scope)."""
    code, status, text = cloud_code(exc), _status(exc), describe(exc)
    if isinstance(exc, ClientAuthenticationError):
        return ConfigurationError(
            f"Azure rejected or could not get credentials ({text}); {_CREDENTIALS_HINT}", cloud_code=code
        )
    if status == 404 and code == "SubscriptionNotFound":
        return ConfigurationError(f"{text} (check subscription_id or AZURE_SUBSCRIPTION_ID)", cloud_code=code)
    if status == 404:
        return InstanceNotFound(f"{subject}: {text}", cloud_code=code)
    if status == 403:
        return PermissionDenied(f"{subject}: {text}", cloud_code=code)
    if status == 409:
        return InvalidInstanceState(f"{subject}: {text}", cloud_code=code)
    if isinstance(exc, ServiceRequestError):
        return ProviderError(f"cannot reach Azure Resource Manager: {text}", cloud_code=code)
    return ProviderError(f"{subject}: {text}", cloud_code=code)

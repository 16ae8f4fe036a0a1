"""Turning botocore failures into the plugin contract's errors.

botocore already retried throttling and transient failures (standard or
adaptive retry mode, bounded by ``max_attempts``) before anything reaches
this module; a throttling code that still arrives here becomes
:class:`~snoozebot.sdk.Throttled`.

Errors fall in two kinds for batch calls: those about *one instance* in the
request (:data:`PER_INSTANCE_CODES`: an unknown id, a wrong state, stop
protection), after which the rest of the batch is retried without it, and
those about the *request* (throttling, credentials, the endpoint), which
fail every id in it.
"""

from __future__ import annotations

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from snoozebot.sdk import (
    ConfigurationError,
    InstanceNotFound,
    InvalidInstanceState,
    PermissionDenied,
    ProviderError,
    Throttled,
)

__all__ = [
    "CREDENTIALS_HINT",
    "NOT_FOUND_CODES",
    "PER_INSTANCE_CODES",
    "REGION_HINT",
    "STATE_CODES",
    "client_error_code",
    "map_error",
    "missing_ids",
]

NOT_FOUND_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})
STATE_CODES = frozenset(
    {
        "IncorrectInstanceState",
        "IncorrectState",
        "UnsupportedOperation",
        "UnsupportedHibernationConfiguration",
    }
)
PERMISSION_CODES = frozenset({"UnauthorizedOperation", "OperationNotPermitted", "AccessDenied"})
CREDENTIAL_CODES = frozenset(
    {"AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "RequestExpired"}
)
THROTTLE_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "ServiceUnavailable",
        "Unavailable",
        "InternalError",
        "InternalFailure",
    }
)
PER_INSTANCE_CODES = NOT_FOUND_CODES | STATE_CODES | PERMISSION_CODES
"""Codes that concern one instance of a batch: the others are retried without it."""

REGION_HINT = "set the region: -o region=us-east-1, [providers.aws] region = ..., or AWS_DEFAULT_REGION"
CREDENTIALS_HINT = (
    "configure AWS credentials as for any boto3 program: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE or -o profile=NAME, ~/.aws/credentials, or an instance role"
)

_ID_RE = re.compile(r"\bi-[0-9a-zA-Z]+\b")


def client_error_code(exc: BaseException) -> str | None:
    """The EC2 error code of a ``ClientError``, else None."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or exc)


def missing_ids(exc: BaseException, candidates: list[str]) -> list[str]:
    """The ids of ``candidates`` that a NotFound/Malformed error names (maybe none)."""
    if client_error_code(exc) not in NOT_FOUND_CODES:
        return []
    named = set(_ID_RE.findall(_message(exc))) if isinstance(exc, ClientError) else set()
    if not named:
        # Malformed ids need not look like i-...; match the quoted text literally.
        text = _message(exc) if isinstance(exc, ClientError) else ""
        return [c for c in candidates if f"'{c}'" in text]
    return [c for c in candidates if c in named]


def map_error(exc: Exception, *, instance_id: str | None = None) -> Exception:
    """The contract error for a botocore failure (``instance_id`` names the subject, if one).

    Anything that is not a botocore failure is returned unchanged: the host
    reports it as an internal plugin error.
    """
    if isinstance(exc, ProviderError):
        return exc
    code = client_error_code(exc)
    if isinstance(exc, ClientError):
        message = _message(exc)
        if code in NOT_FOUND_CODES:
            subject = f"instance {instance_id}" if instance_id else "instance"
            return InstanceNotFound(f"{subject} not found: {message}", cloud_code=code)
        if code in STATE_CODES:
            return InvalidInstanceState(message, cloud_code=code)
        if code in PERMISSION_CODES:
            return PermissionDenied(message, cloud_code=code)
        if code in CREDENTIAL_CODES:
            return ConfigurationError(
                f"AWS rejected the credentials ({message}); {CREDENTIALS_HINT}", cloud_code=code
            )
        if code in THROTTLE_CODES:
            return Throttled(f"EC2 kept throttling or failing after retries: {message}", cloud_code=code)
        return ProviderError(f"EC2 error {code}: {message}", cloud_code=code)
    if isinstance(exc, NoRegionError):
        return ConfigurationError(f"no AWS region configured; {REGION_HINT}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigurationError(f"no usable AWS credentials found; {CREDENTIALS_HINT}")
    if isinstance(exc, ProfileNotFound):
        return ConfigurationError(f"{exc}; check -o profile=NAME or AWS_PROFILE")
    if isinstance(exc, ConnectionError):
        return ProviderError(f"cannot reach the EC2 endpoint: {exc}")
    if isinstance(exc, BotoCoreError):
        return ProviderError(f"EC2 request failed: {exc}")
    return exc

"""The provider options, validated once when the worker builds its clients.

Options (``[providers.azure]`` or ``-o KEY=VALUE``): ``subscription_id``
(else ``$AZURE_SUBSCRIPTION_ID``), ``resource_group``, ``endpoint``,
``credentials`` (``default``; ``anonymous`` is the default for a plain
``http://`` endpoint), ``stop_mode`` (``deallocate`` or ``poweroff``) and
``prices_endpoint`` (the Retail Prices API, for ``hourly_price``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from snoozebot.sdk import ConfigurationError, InstanceNotFound

__all__ = ["DEFAULT_ENDPOINT", "KNOWN_OPTIONS", "Settings", "StopMode", "split_instance_id"]

DEFAULT_ENDPOINT = "https://management.azure.com"
StopMode = Literal["deallocate", "poweroff"]

_CREDENTIALS = ("default", "anonymous")
_STOP_MODES: tuple[StopMode, ...] = ("deallocate", "poweroff")
KNOWN_OPTIONS = (
    "subscription_id", "resource_group", "endpoint", "credentials", "stop_mode", "prices_endpoint",
)


@dataclass(frozen=True)
class Settings:
    """Validated provider options."""

    subscription_id: str
    resource_group: str | None
    endpoint: str
    credentials: str
    stop_mode: StopMode

    @classmethod
    def from_options(cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> Settings:
        """Validate ``options``; every problem is a ConfigurationError with a hint."""
        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown azure option(s) {', '.join(unknown)} (known: {', '.join(KNOWN_OPTIONS)})"
            )
        endpoint = _endpoint(options.get("endpoint") or DEFAULT_ENDPOINT)
        # A plain-http endpoint is an emulator: no real token is ever sent there.
        plain_http = endpoint.startswith("http://")
        credentials = options.get("credentials") or ("anonymous" if plain_http else "default")
        return cls(
            subscription_id=_subscription(
                options.get("subscription_id") or environ.get("AZURE_SUBSCRIPTION_ID")
            ),
            resource_group=options.get("resource_group") or None,
            endpoint=endpoint,
            credentials=_choice("credentials", credentials, _CREDENTIALS),
            stop_mode=_stop_mode(options.get("stop_mode") or "deallocate"),
        )

    @property
    def plain_http(self) -> bool:
        """True for an ``http://`` endpoint (an emulator or fake on loopback)."""
        return self.endpoint.startswith("http://")


def split_instance_id(instance_id: str, default_group: str | None) -> tuple[str, str]:
    """``RESOURCE_GROUP/VM_NAME`` (or a bare name with the ``resource_group`` option)."""
    parts = instance_id.split("/")
    if len(parts) == 1 and default_group and parts[0]:
        return default_group, parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    expected = "RESOURCE_GROUP/VM_NAME" + (" or VM_NAME" if default_group else "")
    raise InstanceNotFound(f"malformed Azure instance id {instance_id!r}: expected {expected}")


def _subscription(value: str | None) -> str:
    if not value:
        raise ConfigurationError(
            "no Azure subscription: pass -o subscription_id=GUID, set subscription_id under "
            "[providers.azure] in the config file, or export AZURE_SUBSCRIPTION_ID"
        )
    try:
        uuid.UUID(value)
    except ValueError:
        raise ConfigurationError(f"subscription_id must be a subscription GUID, got {value!r}") from None
    return value


def _endpoint(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"endpoint must be an http(s) URL such as {DEFAULT_ENDPOINT}, got {value!r}")
    return value.rstrip("/")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _stop_mode(value: str) -> StopMode:
    for mode in _STOP_MODES:
        if value == mode:
            return mode
    raise ConfigurationError(f"stop_mode must be one of {', '.join(_STOP_MODES)}, got {value!r}")

"""The host's exception tree and the exit code of every expected failure.

::

    SnoozebotError                 exit 1 unless a subclass says otherwise
     ├── UsageError                exit 2: bad usage or bad input
     ├── OperationFailed           exit 1: some cloud operation failed
     ├── LockTimeout               exit 1: another run holds the lock
     └── PluginUnavailable         exit 3: the plugin cannot serve calls
          ├── PluginNotFound       not installed
          ├── PluginLoadError      its module failed to import or instantiate
          ├── PluginIncompatible   api or protocol version refused
          ├── PluginCrashed        the worker died (calls in flight fail)
          └── PluginTimeout        a call exceeded its timeout (that call alone)

Plugin-side failures are :class:`snoozebot.sdk.ProviderError` subclasses; they
cross the channel as ``{"code", "message", "cloud_code"}`` and are rebuilt on
the host by :func:`provider_error_from_wire`. :func:`exit_code_for` is the
one place that turns an exception into an exit code.
"""

from __future__ import annotations

from typing import Any

from snoozebot import sdk

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "LockTimeout",
    "OperationFailed",
    "PluginCrashed",
    "PluginError",
    "PluginIncompatible",
    "PluginLoadError",
    "PluginNotFound",
    "PluginTimeout",
    "PluginUnavailable",
    "SnoozebotError",
    "UsageError",
    "error_to_wire",
    "exit_code_for",
    "provider_error_from_wire",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130


class SnoozebotError(Exception):
    """Base of every expected failure on the host side."""

    code = "error"
    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(SnoozebotError):
    """Bad usage or bad input (an option, an id, a config file)."""

    code = "usage"
    exit_code = EXIT_USAGE


class OperationFailed(SnoozebotError):
    """One or more cloud operations failed; details were already reported."""

    code = "operation_failed"


class LockTimeout(SnoozebotError):
    """Another snoozebot run held the state lock for longer than we wait."""

    code = "locked"


class PluginUnavailable(SnoozebotError):
    """The plugin cannot serve calls right now."""

    code = "plugin_unavailable"
    exit_code = EXIT_UNAVAILABLE

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(message)
        self.plugin = plugin


class PluginNotFound(PluginUnavailable):
    code = "plugin_not_found"


class PluginLoadError(PluginUnavailable):
    code = "plugin_load_error"


class PluginIncompatible(PluginUnavailable):
    code = "plugin_incompatible"


class PluginCrashed(PluginUnavailable):
    code = "plugin_crashed"


class PluginTimeout(PluginUnavailable):
    code = "plugin_timeout"


class PluginError(sdk.ProviderError):
    """A plugin raised something that is not a ProviderError: an internal plugin bug."""

    code = "plugin_error"


_PROVIDER_ERRORS: dict[str, type[sdk.ProviderError]] = {
    cls.code: cls
    for cls in (
        sdk.ProviderError,
        sdk.InstanceNotFound,
        sdk.InvalidInstanceState,
        sdk.PermissionDenied,
        sdk.Throttled,
        sdk.ConfigurationError,
        PluginError,
    )
}


def error_to_wire(exc: BaseException, *, plugin: str) -> dict[str, Any]:
    """The JSON form of an exception raised inside a worker."""
    if isinstance(exc, sdk.ProviderError):
        return {"code": exc.code, "message": exc.message, "cloud_code": exc.cloud_code}
    return {
        "code": PluginError.code,
        "message": f"internal error in plugin {plugin!r}: {type(exc).__name__}: {exc}",
        "cloud_code": None,
    }


def provider_error_from_wire(error: dict[str, Any]) -> sdk.ProviderError:
    """Rebuild the ProviderError a worker reported."""
    cls = _PROVIDER_ERRORS.get(str(error.get("code")), sdk.ProviderError)
    return cls(str(error.get("message", "")), cloud_code=error.get("cloud_code"))


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an expected failure."""
    if isinstance(exc, SnoozebotError):
        return exc.exit_code
    if isinstance(exc, sdk.ConfigurationError):
        return EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILED

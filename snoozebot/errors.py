"""The host's exception tree and the exit code of every expected failure.

::

    SnoozebotError                 exit 1 unless a subclass says otherwise
     ├── UsageError                exit 2: bad usage or bad input
     │    └── CapabilityMissing    the provider does not offer that optional method
     ├── OperationFailed           exit 1: some cloud operation failed
     ├── LockTimeout               exit 1: another run holds the lock
     ├── OutputFailed              exit 1: the output cannot be written
     ├── StateUnavailable          exit 3: the state directory cannot serve the command
     │    ├── StateDamaged         a state file or database cannot be read or parsed
     │    └── StateUnwritable      it cannot be written (read-only, full, no permission)
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

from collections.abc import Callable
from typing import Any

from snoozebot import sdk

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "CapabilityMissing",
    "LockTimeout",
    "OperationFailed",
    "OutputFailed",
    "PluginCrashed",
    "PluginError",
    "PluginIncompatible",
    "PluginLoadError",
    "PluginNotFound",
    "PluginTimeout",
    "PluginUnavailable",
    "SnoozebotError",
    "StateDamaged",
    "StateUnavailable",
    "StateUnwritable",
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
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process ended by it


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


class CapabilityMissing(UsageError):
    """Asked a provider for an optional method (a capability) it did not announce.

    A usage error: the request names something this provider cannot do, like
    an unknown option; the plugin itself is fine.
    """

    code = "capability_missing"

    def __init__(self, plugin: str, capability: str) -> None:
        super().__init__(f"provider {plugin!r} does not offer {capability}: its plugin does not implement it")
        self.plugin = plugin
        self.capability = capability


class OperationFailed(SnoozebotError):
    """One or more cloud operations failed; details were already reported."""

    code = "operation_failed"


class LockTimeout(SnoozebotError):
    """Another snoozebot run held the state lock for longer than we wait."""

    code = "locked"


class OutputFailed(SnoozebotError):
    """stdout is closed, full, a broken pipe, or its encoding cannot hold the text."""

    code = "output_failed"
class StateUnavailable(SnoozebotError):
    """A file or database in the state directory cannot serve this command; ``path`` names it."""

    code = "state_unavailable"
    exit_code = EXIT_UNAVAILABLE

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class StateDamaged(StateUnavailable):
    """A state file or database cannot be read or parsed; it is left exactly as it is."""

    code = "state_damaged"


class StateUnwritable(StateUnavailable):
    """The state directory cannot be written: read-only, full, or not ours."""

    code = "state_unwritable"


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
    """The JSON form of an exception raised inside a worker; never raises.

    A plugin's exception is untrusted: its ``__str__``, ``__repr__``,
    ``message`` or ``cloud_code`` may raise or be of any type. What cannot be
    read is said to be unreadable, so the call is still answered at once.
    """
    name = _safe_str(lambda: type(exc).__name__) or "exception"
    if isinstance(exc, sdk.ProviderError):
        message = _safe_str(lambda: exc.message)
        return {
            "code": _safe_str(lambda: exc.code) or sdk.ProviderError.code,
            "message": f"{name} (its message could not be read)" if message is None else message,
            "cloud_code": _safe_str(lambda: exc.cloud_code),
        }
    detail = _safe_str(lambda: exc) or _safe_str(lambda: repr(exc)) or "its message could not be read"
    return {
        "code": PluginError.code,
        "message": f"internal error in plugin {plugin!r}: {name}: {detail}",
        "cloud_code": None,
    }


def _safe_str(get: Callable[[], object]) -> str | None:
    """``str()`` of what ``get`` returns; None when that is None or either raises."""
    try:
        value = get()
        return None if value is None else str(value)
    except BaseException:  # anything a plugin's object raises, even SystemExit
        return None


def provider_error_from_wire(error: Any) -> sdk.ProviderError:
    """Rebuild the ProviderError a worker reported (an error of another shape is a plugin error)."""
    if not isinstance(error, dict):
        return PluginError(f"a plugin reported an error that is not an object: {error!r:.200}")
    cls = _PROVIDER_ERRORS.get(str(error.get("code")), sdk.ProviderError)
    cloud_code = error.get("cloud_code")
    return cls(str(error.get("message", "")), cloud_code=cloud_code if isinstance(cloud_code, str) else None)


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an expected failure."""
    if isinstance(exc, SnoozebotError):
        return exc.exit_code
    if isinstance(exc, sdk.ConfigurationError):
        return EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILED

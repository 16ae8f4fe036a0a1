"""The plugin author's API: everything a Snoozebot provider touches.

A provider is a class that subclasses :class:`CloudProvider` and is registered
as an entry point in the group ``snoozebot.providers``. It runs in its own
worker process; the host talks to it over a JSON channel, so everything it
returns must be an :class:`Instance` (or a list or mapping of them) and every
expected failure must be one of the errors below.

Exception tree::

    ProviderError                 any expected failure of a cloud call
     ├── InstanceNotFound         the id names no instance
     ├── InvalidInstanceState     the instance cannot make that transition now
     ├── PermissionDenied         the credentials may not do this (or stop protection)
     ├── Throttled                the cloud kept throttling after retries (retryable)
     └── ConfigurationError       missing credentials, region, project, ...

Any other exception raised by a provider reaches the user as an internal
plugin error naming the plugin.

Plugin API 1.1 adds optional methods, *capabilities*: a provider that
implements one (overrides it, and declares ``api_version = "1.1"``) announces
it to the host, which never calls one that was not announced: so far
:meth:`CloudProvider.identify_self`, :meth:`CloudProvider.expand_options` and
:meth:`CloudProvider.hourly_price`.
See ``docs/plugin-guide.md``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

__all__ = [
    "API_VERSION",
    "BatchResult",
    "CloudProvider",
    "ConfigurationError",
    "HourlyPrice",
    "Identity",
    "Instance",
    "InstanceNotFound",
    "InstanceState",
    "InvalidInstanceState",
    "PermissionDenied",
    "ProviderError",
    "Throttled",
]

API_VERSION = "1.1"
"""The plugin API of this release; a plugin declares the one it was written for (1.0 plugins load too)."""


class InstanceState(enum.StrEnum):
    """The lifecycle states Snoozebot knows; every cloud state maps to one."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    SUSPENDING = "suspending"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str) -> InstanceState:
        """Return the state named ``value``, or ``UNKNOWN`` for anything else."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class Instance:
    """One cloud machine as a provider sees it at one moment."""

    id: str
    provider: str
    state: InstanceState
    raw_state: str = ""
    name: str | None = None
    instance_type: str | None = None
    region: str | None = None
    zone: str | None = None
    launch_time: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    public_ip: str | None = None
    """Where it is reached from outside its network, if anywhere (plugin API 1.1)."""
    private_ip: str | None = None
    """Its address inside its network, if known (plugin API 1.1)."""

    def __post_init__(self) -> None:
        if self.launch_time is not None and self.launch_time.tzinfo is None:
            raise ValueError("Instance.launch_time must be timezone-aware (UTC)")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: state as its string value, launch_time ISO 8601 or None."""
        return {
            "id": self.id,
            "provider": self.provider,
            "state": self.state.value,
            "raw_state": self.raw_state,
            "name": self.name,
            "instance_type": self.instance_type,
            "region": self.region,
            "zone": self.zone,
            "launch_time": (self.launch_time.astimezone(UTC).isoformat() if self.launch_time else None),
            "tags": dict(self.tags),
            "public_ip": self.public_ip,
            "private_ip": self.private_ip,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instance:
        """Rebuild an instance from :meth:`to_dict` output."""
        launch = data.get("launch_time")
        return cls(
            id=str(data["id"]),
            provider=str(data["provider"]),
            state=InstanceState.parse(str(data.get("state", "unknown"))),
            raw_state=str(data.get("raw_state") or ""),
            name=data.get("name"),
            instance_type=data.get("instance_type"),
            region=data.get("region"),
            zone=data.get("zone"),
            launch_time=datetime.fromisoformat(launch) if launch else None,
            tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
            public_ip=data.get("public_ip"),
            private_ip=data.get("private_ip"),
        )


@dataclass(frozen=True)
class HourlyPrice:
    """An instance type's on-demand price per hour in one region, in USD, and where it came from.

    ``source`` is ``lookup`` (the cloud's price API, asked now) or ``table``
    (a dated table shipped with the provider); ``detail`` says which, in words
    (``AWS Price List API``, ``aws table of 2026-11-01``).
    """

    usd_per_hour: float
    source: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"usd_per_hour": self.usd_per_hour, "source": self.source, "detail": self.detail}


@dataclass(frozen=True)
class Identity:
    """The instance a provider says this machine is, and the provider options that reach it."""

    provider: str
    instance_id: str
    options: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"provider": self.provider, "instance_id": self.instance_id, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        """Rebuild an identity from :meth:`to_dict` output."""
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise TypeError("Identity options must be a mapping")
        return cls(
            provider=str(data["provider"]),
            instance_id=str(data["instance_id"]),
            options={str(k): str(v) for k, v in options.items()},
        )


class ProviderError(Exception):
    """Base of every expected provider failure.

    ``cloud_code`` carries the cloud's own error code (for example
    ``InvalidInstanceID.NotFound``) when there is one.
    """

    code: ClassVar[str] = "provider_error"

    def __init__(self, message: str, *, cloud_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cloud_code = cloud_code


class InstanceNotFound(ProviderError):
    """The instance id names no instance (or is malformed)."""

    code = "instance_not_found"


class InvalidInstanceState(ProviderError):
    """The instance cannot make the requested transition in its current state."""

    code = "invalid_instance_state"


class PermissionDenied(ProviderError):
    """The credentials may not perform this operation (including stop protection)."""

    code = "permission_denied"


class Throttled(ProviderError):
    """The cloud kept throttling the requests after retries; try again later."""

    code = "throttled"


class ConfigurationError(ProviderError):
    """Missing or invalid provider configuration: credentials, region, project, ..."""

    code = "configuration_error"


BatchResult = dict[str, "Instance | Exception"]
"""Per-id outcome of a batch operation: the instance, or the error raised for that id."""

_DEFAULT_BATCH_CONCURRENCY = 8


class CloudProvider:
    """Base class of every provider plugin.

    Subclasses set ``name`` (equal to the entry point name), ``version`` and
    ``api_version``, accept the provider options in ``__init__``, and implement
    the four single-instance operations. ``requires_plugins`` optionally lists
    other providers this one needs, as requirement strings (``"aws>=1.2"``).

    Optional methods (capabilities, plugin API 1.1) are defined here only to
    document their signatures: a provider announces one when it overrides it
    and declares ``api_version`` 1.1 or later.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    api_version: ClassVar[str] = API_VERSION
    requires_plugins: ClassVar[list[str]] = []

    def __init__(self, config: dict[str, str]) -> None:
        self.config = dict(config)

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        """Instances whose tags/labels equal every ``filters`` item."""
        raise NotImplementedError

    def get_instance_info(self, instance_id: str) -> Instance:
        """The instance ``instance_id`` as it is now; raises InstanceNotFound."""
        raise NotImplementedError

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        """Request a stop; return the instance right after the request. Idempotent."""
        raise NotImplementedError

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        """Request a start (or resume); return the instance right after. Idempotent."""
        raise NotImplementedError

    def stop_instances(
        self, instance_ids: Iterable[str], *, hibernate: bool = False, dry_run: bool = False
    ) -> BatchResult:
        """Stop many instances; one failing id never aborts the others."""
        return self._each(
            instance_ids,
            lambda iid: self.stop_instance(iid, hibernate=hibernate, dry_run=dry_run),
        )

    def start_instances(self, instance_ids: Iterable[str], *, dry_run: bool = False) -> BatchResult:
        """Start many instances; one failing id never aborts the others."""
        return self._each(instance_ids, lambda iid: self.start_instance(iid, dry_run=dry_run))

    def close(self) -> None:
        """Release clients and connections; called once before the worker exits."""

    # -- optional methods (capabilities, plugin API 1.1) ------------------------

    @classmethod
    def identify_self(cls) -> Identity:
        """Capability: which instance of this cloud is this machine? (its metadata service)

        A class method: it is asked before the provider options are known (the
        answer supplies them, e.g. the region), so it must not need them.
        Raise a ProviderError (``snoozebot.metadata.MetadataUnavailable``) when
        this is not one of the cloud's instances; give up at once when the
        metadata service refuses the connection.
        """
        raise NotImplementedError

    @classmethod
    def expand_options(cls, options: dict[str, str]) -> dict[str, list[str]]:
        """Capability: the values this provider's own words stand for in a fleet target's options.

        Given a target's options (plain values), return ``{option: [values]}``
        for each option whose value is a word the provider knows (aws:
        ``region = "all"``, ``account = "organization"``); each then fans out
        like an array. A class method: the options need not be valid yet.
        """
        raise NotImplementedError

    def hourly_price(self, instance_type: str, region: str) -> HourlyPrice | None:
        """Capability: the on-demand price of ``instance_type`` in ``region`` (Linux, shared tenancy).

        Ask the cloud's price API, else answer from a dated table shipped with
        the provider (``source="table"``); None when neither knows the type.
        Raise a ProviderError when the price API fails and no table answers.
        """
        raise NotImplementedError

    def _each(self, instance_ids: Iterable[str], action: Callable[[str], Instance]) -> BatchResult:
        ids = list(dict.fromkeys(instance_ids))

        def attempt(iid: str) -> Instance | Exception:
            try:
                return action(iid)
            except Exception as exc:  # reported per id; never aborts the batch
                return exc

        if len(ids) <= 1:
            return {iid: attempt(iid) for iid in ids}
        with ThreadPoolExecutor(max_workers=min(_DEFAULT_BATCH_CONCURRENCY, len(ids))) as pool:
            return dict(zip(ids, pool.map(attempt, ids), strict=True))

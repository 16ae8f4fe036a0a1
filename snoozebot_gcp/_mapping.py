"""Compute Engine resources as Snoozebot sees them: ids, states, instances, label filters.

An instance id is ``ZONE/NAME``, or the bare ``NAME`` when the provider has a
``zone`` option. The compute v1 statuses map onto :class:`InstanceState`;
``TERMINATED`` is a stopped, restartable VM. Statuses outside the documented
lifecycle (``REPAIRING``, and any the API adds later) are ``unknown``, so
nothing is ever acted on because of them; the raw status is always kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from snoozebot.sdk import Instance, InstanceNotFound, InstanceState

__all__ = [
    "PROVIDER",
    "InstanceRef",
    "is_resource_name",
    "label_filter",
    "labels_match",
    "parse_instance_id",
    "state_of",
    "to_instance",
]

PROVIDER = "gcp"
_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_RE = re.compile(r"^[a-z0-9_-]{1,63}$")
_STATES = {
    "PROVISIONING": InstanceState.PENDING,
    "STAGING": InstanceState.PENDING,
    "RUNNING": InstanceState.RUNNING,
    "STOPPING": InstanceState.STOPPING,
    "SUSPENDING": InstanceState.SUSPENDING,
    "SUSPENDED": InstanceState.SUSPENDED,
    "TERMINATED": InstanceState.STOPPED,
    "REPAIRING": InstanceState.UNKNOWN,
}


@dataclass(frozen=True)
class InstanceRef:
    """Where an instance lives: its zone and name."""

    zone: str
    name: str


def is_resource_name(value: str) -> bool:
    """Whether ``value`` is a valid Compute Engine zone or instance name (RFC 1035)."""
    return bool(_NAME_RE.match(value))


def parse_instance_id(instance_id: str, default_zone: str | None) -> InstanceRef:
    """``ZONE/NAME`` (or ``NAME`` with a default zone) as a reference; else InstanceNotFound."""
    zone, sep, name = instance_id.rpartition("/")
    if not sep:
        zone = default_zone or ""
    if not (zone and is_resource_name(zone) and is_resource_name(name)):
        form = "ZONE/NAME or NAME" if default_zone else "ZONE/NAME (or NAME with -o zone=ZONE)"
        raise InstanceNotFound(
            f"{instance_id!r} is not a gcp instance id: expected {form}, e.g. us-central1-a/my-vm"
        )
    return InstanceRef(zone, name)


def state_of(status: str) -> InstanceState:
    """The Snoozebot state of a compute v1 instance status."""
    return _STATES.get(status, InstanceState.UNKNOWN)


def _last_segment(url: str | None) -> str | None:
    return url.rstrip("/").rsplit("/", 1)[-1] if url else None


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _first(values: Iterable[Any]) -> str | None:
    """The first non-empty address among ``values`` (network interfaces in their order)."""
    return next((str(v) for v in values if v), None)


def to_instance(resource: Mapping[str, Any], default_zone: str | None) -> Instance:
    """An :class:`Instance` from a compute v1 Instance resource."""
    zone = _last_segment(resource.get("zone")) or default_zone or ""
    name = str(resource.get("name", ""))
    status = str(resource.get("status", ""))
    nics: list[Mapping[str, Any]] = list(resource.get("networkInterfaces") or [])
    return Instance(
        id=name if default_zone and zone == default_zone else f"{zone}/{name}",
        provider=PROVIDER,
        state=state_of(status),
        raw_state=status,
        name=name,
        instance_type=_last_segment(resource.get("machineType")),
        region=zone.rsplit("-", 1)[0] if "-" in zone else None,
        zone=zone or None,
        launch_time=_timestamp(resource.get("lastStartTimestamp") or resource.get("creationTimestamp")),
        tags={str(k): str(v) for k, v in (resource.get("labels") or {}).items()},
        public_ip=_first(a.get("natIP") for n in nics for a in n.get("accessConfigs") or []),
        private_ip=_first(n.get("networkIP") for n in nics),
    )


def labels_match(resource: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    """Whether the resource's labels equal every filter item."""
    labels = resource.get("labels") or {}
    return all(labels.get(key) == value for key, value in filters.items())


def label_filter(filters: Mapping[str, str]) -> str | None:
    """A server-side ``filter`` expression (``labels.KEY = VALUE``) for one label, or None.

    One label-safe pair narrows what the API sends; every pair is still checked on
    this side by :func:`labels_match`, so the expression is kept to the simplest form
    the API documents (unquoted, as in its ``name != example-instance`` example).
    """
    for key, value in sorted(filters.items()):
        if _LABEL_RE.match(key) and _LABEL_RE.match(value):
            return f"labels.{key} = {value}"
    return None

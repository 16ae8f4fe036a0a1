"""Azure's instance-view status codes, and VM models, as snoozebot instances.

A VM's instance view carries ``PowerState/*`` (and, for hibernation,
``HibernationState/*``) status codes. ``deallocated`` and ``stopped`` both
map to ``stopped``; the raw state tells them apart, because a stopped but
still allocated VM is still billed for its compute. A hibernated VM is
``suspended`` (memory kept; start resumes it).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from snoozebot.sdk import Instance, InstanceState

__all__ = ["instance_from_vm", "map_state", "power_codes"]

_POWER_STATES = {
    "PowerState/starting": InstanceState.PENDING,
    "PowerState/running": InstanceState.RUNNING,
    "PowerState/stopping": InstanceState.STOPPING,
    "PowerState/stopped": InstanceState.STOPPED,
    "PowerState/deallocating": InstanceState.STOPPING,
    "PowerState/deallocated": InstanceState.STOPPED,
}
_HIBERNATION_STATES = {
    "HibernationState/Hibernating": InstanceState.SUSPENDING,
    "HibernationState/Hibernated": InstanceState.SUSPENDED,
}


def power_codes(statuses: Iterable[Any] | None) -> list[str]:
    """The ``PowerState/*`` and ``HibernationState/*`` codes among instance-view statuses."""
    codes = [str(getattr(s, "code", None) or "") for s in statuses or ()]
    return [c for c in codes if c.startswith(("PowerState/", "HibernationState/"))]


def map_state(codes: list[str]) -> tuple[InstanceState, str]:
    """The snoozebot state and the raw state (codes joined by ``+``) for status codes."""
    power = next((c for c in codes if c.startswith("PowerState/")), None)
    hibernation = next((c for c in codes if c.startswith("HibernationState/")), None)
    raw = "+".join(c for c in (power, hibernation) if c)
    if power is None:
        return InstanceState.UNKNOWN, raw
    state = _POWER_STATES.get(power, InstanceState.UNKNOWN)
    if hibernation in _HIBERNATION_STATES and power in ("PowerState/deallocating", "PowerState/deallocated"):
        state = _HIBERNATION_STATES[hibernation]
    return state, raw


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def instance_from_vm(vm: Any, *, instance_id: str, codes: list[str]) -> Instance:
    """An :class:`Instance` from a ``VirtualMachine`` model and its power status codes.

    ``launch_time`` is the VM's creation time: ARM reports no last-start time.
    """
    props = getattr(vm, "properties", None)
    hardware = getattr(props, "hardware_profile", None)
    created = getattr(props, "time_created", None)
    zones = list(getattr(vm, "zones", None) or [])
    state, raw = map_state(codes)
    return Instance(
        id=instance_id,
        provider="azure",
        state=state,
        raw_state=raw,
        name=_text(getattr(vm, "name", None)),
        instance_type=_text(getattr(hardware, "vm_size", None)),
        region=_text(getattr(vm, "location", None)),
        zone=str(zones[0]) if zones else None,
        launch_time=created.astimezone(UTC) if created is not None and created.tzinfo else None,
        tags={str(k): str(v) for k, v in (getattr(vm, "tags", None) or {}).items()},
    )

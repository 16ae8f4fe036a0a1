"""EC2's answers as :class:`snoozebot.sdk.Instance` objects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from snoozebot.sdk import Instance, InstanceState

__all__ = ["LIVE_STATES", "STATES", "from_description", "from_state_change", "tag_filters"]

STATES: Mapping[str, InstanceState] = {
    "pending": InstanceState.PENDING,
    "running": InstanceState.RUNNING,
    "stopping": InstanceState.STOPPING,
    "stopped": InstanceState.STOPPED,
    # On its way to "terminated": it can be neither started nor stopped again.
    "shutting-down": InstanceState.TERMINATED,
    "terminated": InstanceState.TERMINATED,
}
"""EC2's instance-state-name values; anything else is ``unknown``."""

LIVE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]
"""Every state but ``terminated``: what ``list`` shows unless asked for terminated ones."""

PROVIDER = "aws"


def _state(raw: str) -> InstanceState:
    return STATES.get(raw, InstanceState.UNKNOWN)


def _utc(value: Any) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def from_description(data: Mapping[str, Any], *, region: str | None) -> Instance:
    """One item of ``DescribeInstances`` ``Reservations[].Instances[]``."""
    raw = str(data.get("State", {}).get("Name", ""))
    tags = {str(t["Key"]): str(t.get("Value", "")) for t in data.get("Tags") or []}
    return Instance(
        id=str(data["InstanceId"]),
        provider=PROVIDER,
        state=_state(raw),
        raw_state=raw,
        name=tags.get("Name"),
        instance_type=data.get("InstanceType"),
        region=region,
        zone=(data.get("Placement") or {}).get("AvailabilityZone"),
        launch_time=_utc(data.get("LaunchTime")),
        tags=tags,
        public_ip=data.get("PublicIpAddress") or None,
        private_ip=data.get("PrivateIpAddress") or None,
    )


def from_state_change(data: Mapping[str, Any], *, region: str | None) -> Instance:
    """One item of ``StoppingInstances``/``StartingInstances``: id and state, nothing more.

    EC2's stop and start answers carry no tags or type; a second describe call
    per batch would double the API calls of every stop, so the result holds
    what the answer says.
    """
    raw = str(data.get("CurrentState", {}).get("Name", ""))
    return Instance(
        id=str(data["InstanceId"]), provider=PROVIDER, state=_state(raw), raw_state=raw, region=region
    )


def tag_filters(filters: Mapping[str, str]) -> list[dict[str, Any]]:
    """``{"Team": "ml"}`` as EC2's server-side ``tag:Team = ml`` filters."""
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in sorted(filters.items())]

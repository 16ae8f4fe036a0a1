"""A VM's addresses (``public_ip``, ``private_ip``), read from its network interfaces.

The compute API's VM model names its network interfaces but not their
addresses: those are network resources (``Microsoft.Network``), read here with
two plain ARM GETs through the compute client's own pipeline (same credential,
endpoint and retry), so no network SDK is needed: the primary interface (its
first IP configuration's private address), then the public address resource
that configuration refers to, if any. Only a running VM's addresses are read
(what ``snoozebot connect`` needs, see docs/connect.md); a read that fails (a
role without ``Microsoft.Network/*/read``, say) leaves them None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = ["NETWORK_API_VERSION", "Addresses", "read_addresses"]

NETWORK_API_VERSION = "2023-09-01"


class Addresses(NamedTuple):
    """A VM's addresses, as the Instance fields of the same names."""

    public_ip: str | None = None
    private_ip: str | None = None


GetJson = Callable[[str], Mapping[str, Any] | None]
"""Reads one ARM resource by id (None when it cannot be read)."""


def _primary_nic(vm: Any) -> str | None:
    profile = getattr(getattr(vm, "properties", None), "network_profile", None)
    nics = list(getattr(profile, "network_interfaces", None) or [])
    nics.sort(key=lambda nic: not getattr(nic, "primary", False))  # the primary one first, else the first
    return str(nics[0].id) if nics and getattr(nics[0], "id", None) else None


def read_addresses(vm: Any, get_json: GetJson) -> Addresses:
    """The public and private address of ``vm`` (a VirtualMachine model), None where unknown."""
    nic_id = _primary_nic(vm)
    nic = get_json(nic_id) if nic_id else None
    configs = list(((nic or {}).get("properties") or {}).get("ipConfigurations") or [])
    if not configs:
        return Addresses()
    configs.sort(key=lambda c: not (c.get("properties") or {}).get("primary", False))
    config = configs[0].get("properties") or {}
    public_id = (config.get("publicIPAddress") or {}).get("id")
    public = get_json(str(public_id)) if public_id else None
    public_ip = ((public or {}).get("properties") or {}).get("ipAddress")
    return Addresses(_text(public_ip), _text(config.get("privateIPAddress")))


def _text(value: Any) -> str | None:
    return str(value) if value else None

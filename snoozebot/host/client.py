"""Typed calls to one provider's worker: JSON on the wire, checked sdk objects and results for the caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snoozebot import sdk
from snoozebot.errors import provider_error_from_wire
from snoozebot.host.protocol import Method
from snoozebot.host.replies import (
    parse_batch,
    parse_expansion,
    parse_identity,
    parse_instance,
    parse_instances,
    parse_price,
)
from snoozebot.host.supervisor import Supervisor
from snoozebot.results import ActionResult

__all__ = ["ProviderClient"]


class ProviderClient:
    """The provider operations of the plugin contract, over a supervised worker.

    Every reply is checked (:mod:`snoozebot.host.replies`): a malformed one
    raises :class:`~snoozebot.host.replies.MalformedReply` for that call alone.
    With ``scope`` (the full provider options of one scope of a fleet target)
    every call names it, and the worker answers it with the provider object it
    keeps for those options.
    """

    def __init__(
        self, supervisor: Supervisor, *, timeout: float, scope: Mapping[str, str] | None = None
    ) -> None:
        self.name = supervisor.provider
        self.supervisor = supervisor
        self.timeout = timeout
        self.scope = dict(scope) if scope is not None else None

    def _call(self, method: str, params: Mapping[str, Any]) -> Any:
        sent = dict(params) if self.scope is None else {**params, "scope": self.scope}
        return self.supervisor.call(method, sent, timeout=self.timeout)

    def ping(self) -> sdk.ProviderError | None:
        """Health check: None when the provider is ready, else its setup error."""
        reply = self._call(Method.PING, {})
        error = reply.get("error") if isinstance(reply, dict) else None
        return provider_error_from_wire(error) if error else None

    def list_instances(self, filters: Mapping[str, str] | None = None) -> list[sdk.Instance]:
        """Instances whose tags/labels equal every ``filters`` item."""
        return parse_instances(self._call(Method.LIST_INSTANCES, {"filters": dict(filters or {})}), self.name)

    def get_instance_info(self, instance_id: str) -> sdk.Instance:
        """One instance as the provider describes it now."""
        return parse_instance(self._call(Method.GET_INSTANCE_INFO, {"instance_id": instance_id}), self.name)

    def stop_instances(
        self, instance_ids: list[str], *, hibernate: bool = False, dry_run: bool = False
    ) -> list[ActionResult]:
        """Stop many instances in one call; one result per id, in order."""
        params = {"instance_ids": instance_ids, "hibernate": hibernate, "dry_run": dry_run}
        return parse_batch(self._call(Method.STOP_INSTANCES, params), instance_ids, self.name)

    def start_instances(self, instance_ids: list[str], *, dry_run: bool = False) -> list[ActionResult]:
        """Start many instances in one call; one result per id, in order."""
        params = {"instance_ids": instance_ids, "dry_run": dry_run}
        return parse_batch(self._call(Method.START_INSTANCES, params), instance_ids, self.name)

    def offers(self, capability: Method) -> bool:
        """Whether the provider announced ``capability`` (starts its worker to learn it)."""
        hello = self.supervisor.worker().handshake
        return hello is not None and capability in hello.capabilities

    def expand_options(self, options: Mapping[str, str]) -> dict[str, list[str]]:
        """Capability: the values the provider's own words in ``options`` stand for."""
        return parse_expansion(self._call(Method.EXPAND_OPTIONS, {"options": dict(options)}), self.name)

    def identify_self(self) -> sdk.Identity:
        """Capability: which of its instances this machine is; CapabilityMissing if not offered."""
        return parse_identity(self._call(Method.IDENTIFY_SELF, {}), self.name)

    def hourly_price(self, instance_type: str, region: str) -> sdk.HourlyPrice | None:
        """Capability: the type's on-demand USD price per hour in ``region``; None when unknown."""
        params = {"instance_type": instance_type, "region": region}
        return parse_price(self._call(Method.HOURLY_PRICE, params), self.name)

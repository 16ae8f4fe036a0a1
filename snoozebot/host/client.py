"""Typed calls to one provider: JSON on the wire, sdk objects for the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snoozebot import sdk
from snoozebot.errors import provider_error_from_wire
from snoozebot.host.supervisor import Supervisor

__all__ = ["ActionOutcome", "ProviderClient"]


@dataclass(frozen=True)
class ActionOutcome:
    """What happened to one instance in a stop or start request."""

    id: str
    provider: str
    instance: sdk.Instance | None = None
    error: sdk.ProviderError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ProviderClient:
    """The provider operations of the plugin contract, over a supervised worker."""

    def __init__(self, supervisor: Supervisor, *, timeout: float) -> None:
        self.name = supervisor.provider
        self.supervisor = supervisor
        self.timeout = timeout

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        return self.supervisor.call(method, params, timeout=self.timeout)

    def ping(self) -> sdk.ProviderError | None:
        """Health check: None when the provider is ready, else its setup error."""
        reply = self._call("ping", {})
        error = reply.get("error") if isinstance(reply, dict) else None
        return provider_error_from_wire(error) if error else None

    def list_instances(self, filters: dict[str, str] | None = None) -> list[sdk.Instance]:
        return [sdk.Instance.from_dict(d) for d in self._call("list_instances", {"filters": filters or {}})]

    def get_instance_info(self, instance_id: str) -> sdk.Instance:
        return sdk.Instance.from_dict(self._call("get_instance_info", {"instance_id": instance_id}))

    def stop_instances(
        self, instance_ids: list[str], *, hibernate: bool = False, dry_run: bool = False
    ) -> list[ActionOutcome]:
        params = {"instance_ids": instance_ids, "hibernate": hibernate, "dry_run": dry_run}
        return self._outcomes(self._call("stop_instances", params))

    def start_instances(self, instance_ids: list[str], *, dry_run: bool = False) -> list[ActionOutcome]:
        return self._outcomes(
            self._call("start_instances", {"instance_ids": instance_ids, "dry_run": dry_run})
        )

    def _outcomes(self, results: list[dict[str, Any]]) -> list[ActionOutcome]:
        outcomes = []
        for item in results:
            if item.get("error"):
                outcomes.append(
                    ActionOutcome(item["id"], self.name, error=provider_error_from_wire(item["error"]))
                )
            else:
                outcomes.append(
                    ActionOutcome(item["id"], self.name, instance=sdk.Instance.from_dict(item["instance"]))
                )
        return outcomes

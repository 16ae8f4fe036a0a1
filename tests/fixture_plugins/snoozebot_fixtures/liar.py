"""A provider whose replies break the protocol's schema (option ``lie`` picks how).

It answers through an Instance subclass whose ``to_dict`` returns the wrong
types, as a buggy or hostile plugin could: the host must check every reply.
``lie`` = ``name_dict``, ``region_float``, ``provider_none``, ``tags_int``,
``naive_time``, or ``none`` (honest).
"""

from __future__ import annotations

from typing import Any

from snoozebot.sdk import CloudProvider, Instance, InstanceState

_LIES: dict[str, dict[str, Any]] = {
    "name_dict": {"name": {"evil": True}},
    "region_float": {"region": 1.5},
    "provider_none": {"provider": None},
    "tags_int": {"tags": {"team": 7}},
    "naive_time": {"launch_time": "2026-01-01T00:00:00"},
    "none": {},
}


class _LyingInstance(Instance):
    lie: dict[str, Any] = {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.lie}


class LiarProvider(CloudProvider):
    name = "liar"
    version = "1.0.0"
    api_version = "1.0"

    def __init__(self, config: dict[str, str]) -> None:
        super().__init__(config)
        self._lie = config.get("lie", "name_dict")
        self._state = InstanceState.RUNNING

    def _instance(self, instance_id: str) -> Instance:
        instance = _LyingInstance(instance_id, self.name, self._state, raw_state=self._state.value)
        object.__setattr__(instance, "lie", _LIES.get(self._lie, {}))
        return instance

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        return [self._instance("i-1"), self._instance("i-2")]

    def get_instance_info(self, instance_id: str) -> Instance:
        return self._instance(instance_id)

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        self._state = InstanceState.STOPPING  # it really acted
        return self._instance(instance_id)

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        self._state = InstanceState.PENDING
        return self._instance(instance_id)

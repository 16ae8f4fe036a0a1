"""A memory provider that answers the way clouds do, for the web UI tests.

- stop and start reply with the state on the way (``stopping``, ``pending``), as
  EC2 does, while the record already holds the final state, so the next listing
  shows ``stopped`` or ``running``;
- a record's ``region`` and ``zone`` are its own (a zone may be empty, as for an
  Azure VM without availability zones);
- a record with ``refuse`` fails every stop and start with that message, as a
  cloud's long permission error.

Options as for the memory provider (``state_file``, ...).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from snoozebot.sdk import Instance, InstanceState, PermissionDenied
from snoozebot_fixtures.memory import MemoryProvider


class CloudyProvider(MemoryProvider):
    name = "cloudy"

    def _to_instance(self, iid: str, rec: dict[str, Any]) -> Instance:
        instance = super()._to_instance(iid, rec)
        return dataclasses.replace(instance, region=rec.get("region", "local"), zone=rec.get("zone", "local-a"))

    def _refuse(self, instance_id: str) -> None:
        with self._instances() as data:
            message = data.get(instance_id, {}).get("refuse")
        if message:
            raise PermissionDenied(message, cloud_code="UnauthorizedOperation")

    def _on_the_way(self, instance: Instance, state: InstanceState, dry_run: bool) -> Instance:
        return instance if dry_run else dataclasses.replace(instance, state=state, raw_state=state.value.upper())

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        self._refuse(instance_id)
        stopped = super().stop_instance(instance_id, hibernate=hibernate, dry_run=dry_run)
        return self._on_the_way(stopped, InstanceState.SUSPENDING if hibernate else InstanceState.STOPPING, dry_run)

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        self._refuse(instance_id)
        return self._on_the_way(super().start_instance(instance_id, dry_run=dry_run), InstanceState.PENDING, dry_run)

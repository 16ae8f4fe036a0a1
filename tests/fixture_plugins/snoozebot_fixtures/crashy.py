"""A provider whose process dies in the middle of list_instances and stop."""

from __future__ import annotations

import os

from snoozebot.sdk import Instance
from snoozebot_fixtures.memory import MemoryProvider


class CrashyProvider(MemoryProvider):
    name = "crashy"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        os._exit(17)

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        os._exit(17)

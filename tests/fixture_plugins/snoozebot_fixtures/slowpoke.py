"""A provider whose list_instances takes ``sleep`` seconds (default 3); every other call answers at once."""

from __future__ import annotations

import time

from snoozebot.sdk import Instance
from snoozebot_fixtures.memory import MemoryProvider


class SlowpokeProvider(MemoryProvider):
    name = "slowpoke"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        time.sleep(float(self.config.get("sleep", "3")))
        return super().list_instances(filters)

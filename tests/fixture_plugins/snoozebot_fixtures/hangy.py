"""A provider whose list_instances never returns."""

from __future__ import annotations

import time

from snoozebot.sdk import Instance
from snoozebot_fixtures.memory import MemoryProvider


class HangyProvider(MemoryProvider):
    name = "hangy"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        while True:
            time.sleep(3600)

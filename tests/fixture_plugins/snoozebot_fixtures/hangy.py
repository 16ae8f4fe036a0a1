"""A provider whose list_instances never returns.

By default only the calling thread hangs (the worker still answers other
calls and its health ping); with the option ``freeze=1`` list_instances stops
the whole worker process (SIGSTOP), so nothing answers any more.
"""

from __future__ import annotations

import os
import signal
import time

from snoozebot.sdk import Instance
from snoozebot_fixtures.memory import MemoryProvider


class HangyProvider(MemoryProvider):
    name = "hangy"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        if self.config.get("freeze") == "1":
            os.kill(os.getpid(), signal.SIGSTOP)
        while True:
            time.sleep(3600)

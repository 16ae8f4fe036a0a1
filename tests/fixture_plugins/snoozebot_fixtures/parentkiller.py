"""A provider whose list_instances kills its worker's parent process (SIGKILL)."""

from __future__ import annotations

import os
import signal
import time

from snoozebot.sdk import Instance
from snoozebot_fixtures.memory import MemoryProvider


class ParentKillerProvider(MemoryProvider):
    name = "parentkiller"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)  # what happens next is the host's and the worker's business
        return super().list_instances(filters)

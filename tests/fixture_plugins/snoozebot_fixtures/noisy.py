"""A provider that prints to stdout and stderr at import and in every call."""

from __future__ import annotations

import logging
import sys

from snoozebot.sdk import Instance
from snoozebot_fixtures.memory import MemoryProvider

print("noisy: hello from import on stdout")
print("noisy: hello from import on stderr", file=sys.stderr)


class NoisyProvider(MemoryProvider):
    name = "noisy"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        print('{"noise": "stdout in list_instances"}')
        print("noisy: stderr in list_instances", file=sys.stderr)
        logging.getLogger("noisy").warning("noisy: a log record from list_instances")
        return super().list_instances(filters)

"""A provider written for a plugin API this snoozebot does not provide."""

from __future__ import annotations

from snoozebot_fixtures.memory import MemoryProvider


class FutureProvider(MemoryProvider):
    name = "future"
    version = "3.1.4"
    api_version = "2.0"

"""Test provider pinned to an old library (conflicts with needlib)."""

from snoozebot.sdk import CloudProvider, Instance


class StaleProvider(CloudProvider):
    name = "stale"
    version = "1.0.0"
    api_version = "1.0"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        return []

"""Test provider others depend on."""

from snoozebot.sdk import CloudProvider, Instance


class LowerProvider(CloudProvider):
    name = "lower"
    version = "1.2.0"
    api_version = "1.0"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        return []

"""Test provider needing a library that is missing and one that is too old."""

from snoozebot.sdk import CloudProvider, Instance


class NeedLibProvider(CloudProvider):
    name = "needlib"
    version = "1.0.0"
    api_version = "1.0"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        return []

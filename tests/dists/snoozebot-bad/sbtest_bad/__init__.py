"""Test provider whose wheel the tests corrupt, so pip fails after installing its dependency."""

from snoozebot.sdk import CloudProvider, Instance


class BadProvider(CloudProvider):
    name = "bad"
    version = "1.0.0"
    api_version = "1.0"

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        return []

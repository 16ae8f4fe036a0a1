"""A provider whose cloud library (an extra of its distribution) is not installed."""

from snoozebot.sdk import CloudProvider


class ExtraProvider(CloudProvider):
    name = "extra"
    version = "1.0.0"
    api_version = "1.1"

    def __init__(self, config: dict[str, str]) -> None:
        import sbtest_absent_cloud_sdk  # noqa: F401 - what the extra would have installed

        super().__init__(config)

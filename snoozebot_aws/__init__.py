"""The aws provider (placeholder until its implementation lands)."""

from snoozebot.sdk import ConfigurationError, CloudProvider

__all__ = ["AwsProvider"]


class AwsProvider(CloudProvider):
    """Placeholder: every call fails cleanly until the real provider lands."""

    name = "aws"
    version = "0.0.0"
    api_version = "1.0"

    def __init__(self, config: dict[str, str]) -> None:
        raise ConfigurationError("provider aws is not implemented yet")

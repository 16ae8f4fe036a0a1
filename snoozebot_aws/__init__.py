"""The Amazon EC2 provider for Snoozebot (entry point ``aws``).

Imported only inside the provider's worker process, never by the host.
Options: ``region``, ``profile``, ``endpoint_url``; boto3's own environment
(``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, ...) works
unchanged. See ``docs/aws.md``.
"""

from snoozebot_aws._provider import AwsProvider

__all__ = ["AwsProvider"]

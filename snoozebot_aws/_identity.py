"""Which EC2 instance is this machine? IMDSv2, as the instance itself sees it.

A session token from ``PUT /latest/api/token``, then ``instance-id`` and
``placement/region``, at ``$AWS_EC2_METADATA_SERVICE_ENDPOINT`` (boto3's own
variable), else ``http://169.254.169.254``. The token is never logged or shown.
"""

from __future__ import annotations

from snoozebot.metadata import MetadataUnavailable, base_url, fetch
from snoozebot.sdk import Identity

__all__ = ["identify"]

_DEFAULT = "http://169.254.169.254"
_SESSION_HEADERS = {"X-aws-ec2-metadata-token-ttl-seconds": "300"}


def identify(provider: str) -> Identity:
    """This instance's id, and its region as the ``region`` option."""
    base = base_url("AWS_EC2_METADATA_SERVICE_ENDPOINT", _DEFAULT)
    token = fetch(f"{base}/latest/api/token", method="PUT", headers=_SESSION_HEADERS)
    headers = {"X-aws-ec2-metadata-token": token}
    instance_id = fetch(f"{base}/latest/meta-data/instance-id", headers=headers)
    region = fetch(f"{base}/latest/meta-data/placement/region", headers=headers)
    if not instance_id or not region:
        raise MetadataUnavailable(f"{base} gave an empty instance id or region")
    return Identity(provider, instance_id, {"region": region})

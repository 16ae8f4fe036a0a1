"""Which Azure VM is this machine? The Azure Instance Metadata Service (IMDS), as the VM sees it.

``GET /metadata/instance?api-version=2021-02-01`` with ``Metadata: true`` at
``$SNOOZEBOT_AZURE_IMDS_ENDPOINT`` (for tests and emulators: a URL or
``HOST:PORT``), else ``http://169.254.169.254``; the answer is JSON whose
``compute`` object names the VM, its resource group and its subscription.
"""

from __future__ import annotations

import json
from typing import Any

from snoozebot.metadata import MetadataUnavailable, base_url, fetch
from snoozebot.sdk import Identity

__all__ = ["ENDPOINT_VARIABLE", "identify"]

ENDPOINT_VARIABLE = "SNOOZEBOT_AZURE_IMDS_ENDPOINT"
_DEFAULT = "http://169.254.169.254"
_PATH = "/metadata/instance?api-version=2021-02-01"


def identify(provider: str) -> Identity:
    """``RESOURCE_GROUP/VM_NAME`` of this VM; ``subscription_id`` and ``resource_group`` options."""
    url = base_url(ENDPOINT_VARIABLE, _DEFAULT) + _PATH
    text = fetch(url, headers={"Metadata": "true"})
    try:
        compute: Any = json.loads(text).get("compute")
        name, group, subscription = (
            compute.get("name"),
            compute.get("resourceGroupName"),
            compute.get("subscriptionId"),
        )
    except (ValueError, AttributeError):
        raise MetadataUnavailable(f"{url} answered something that is not Azure instance metadata") from None
    if not all(isinstance(v, str) and v for v in (name, group, subscription)):
        raise MetadataUnavailable(f"{url} gave an empty VM name, resource group or subscription")
    return Identity(provider, f"{group}/{name}", {"subscription_id": subscription, "resource_group": group})

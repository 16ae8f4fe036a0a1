"""The Azure provider: virtual machines through azure-mgmt-compute.

Registered as the entry point ``azure`` in ``snoozebot.providers``; only a
worker process imports it (and with it the Azure SDK). Options and behaviour
are described in ``docs/azure.md``.
"""

from snoozebot_azure._provider import AzureProvider

__all__ = ["AzureProvider"]

"""Two test providers that require each other."""

import os

from snoozebot.sdk import CloudProvider, Instance

if os.environ.get("SBTEST_IMPORT_LOG"):  # lets tests see which process imported this module
    with open(os.environ["SBTEST_IMPORT_LOG"], "a") as _log:
        _log.write(f"{os.getpid()} {os.getppid()} {__name__}\n")


class PingProvider(CloudProvider):
    name = "ping"
    version = "1.0.0"
    api_version = "1.0"
    requires_plugins = ['pong']

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        return []



class PongProvider(CloudProvider):
    name = "pong"
    version = "1.0.0"
    api_version = "1.0"
    requires_plugins = ['ping>=1']

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        return []

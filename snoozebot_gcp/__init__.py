"""The Google Compute Engine provider (entry point ``gcp``).

Only the worker process imports this package; it brings in
google-api-python-client and google-auth. See ``docs/gcp.md``.
"""

from snoozebot_gcp._provider import GcpProvider

__all__ = ["GcpProvider"]

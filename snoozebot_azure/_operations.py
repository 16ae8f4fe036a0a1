"""The long-running operations a worker started, until their outcome is known.

``stop_instance`` and ``start_instance`` return right after ARM accepted the
request; the SDK's poller keeps following the operation in the background. A
later :meth:`OperationTracker.failure` (called by ``get_instance_info``, which
``--wait`` polls) reports an operation that ended in failure, once, so a
waiting command learns of it instead of waiting for a state that never comes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError
from azure.core.polling import LROPoller

from snoozebot.sdk import ProviderError
from snoozebot_azure._errors import cloud_code, describe, is_retryable

__all__ = ["OperationTracker"]


@dataclass(frozen=True)
class _Operation:
    action: str
    poller: LROPoller[Any]


class OperationTracker:
    """The latest operation per instance id (a newer one replaces it, as ARM preempts)."""

    def __init__(self) -> None:
        self._operations: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def track(self, instance_id: str, action: str, poller: LROPoller[Any]) -> None:
        """Follow ``poller``, the operation ``action`` just started on ``instance_id``."""
        with self._lock:
            self._operations[instance_id] = _Operation(action, poller)

    def failure(self, instance_id: str) -> ProviderError | None:
        """The error of a finished, failed operation on ``instance_id`` (reported once), else None.

        A poll that was itself throttled or broken says nothing about the
        operation; the instance view remains the judge then.
        """
        with self._lock:
            operation = self._operations.get(instance_id)
            if operation is None or not operation.poller.done():
                return None
            del self._operations[instance_id]
        try:
            operation.poller.result(timeout=0)
        except AzureError as exc:
            if is_retryable(exc):
                return None
            return ProviderError(
                f"{operation.action} of {instance_id} failed: {describe(exc)}", cloud_code=cloud_code(exc)
            )
        return None

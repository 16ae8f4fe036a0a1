"""The long-running operations a worker started, followed by reads rather than threads.

``stop_instance`` and ``start_instance`` return right after ARM accepted the
request (``202`` with an ``Azure-AsyncOperation`` URL). Each operation keeps
the SDK's own ARM polling method (:class:`ReadDrivenPolling`), which polls
nothing by itself: every later ``get_instance_info`` of that instance (what
``--wait`` calls) advances it by one status request. So a thousand stopped VMs
cost no background polling at all, and a waiting command learns of an
operation that ended ``Failed`` on its next read, once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.mgmt.core.polling.arm_polling import ARMPolling

from snoozebot.sdk import ProviderError
from snoozebot_azure._errors import cloud_code, describe

__all__ = ["OperationTracker", "ReadDrivenPolling"]

_FAILED = frozenset({"failed", "canceled", "cancelled"})
_MAX_POLL_FAILURES = 3


class ReadDrivenPolling(ARMPolling):
    """ARM's polling method, advanced by :meth:`step` instead of a polling thread."""

    def run(self) -> None:
        """The poller's thread calls this right after the request: poll nothing then."""

    def step(self) -> None:
        """One status request while unfinished; once finished, ARM's own completion.

        The completion raises ``HttpResponseError`` carrying the operation's
        error for a ``Failed`` or ``Canceled`` operation.
        """
        if not self.finished():
            self.update_status()
        if self.finished():
            super().run()


@dataclass
class _Operation:
    action: str
    polling: ReadDrivenPolling
    poll_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class OperationTracker:
    """The latest operation per instance id (a newer one replaces it, as ARM preempts)."""

    def __init__(self, *, endpoint: str, request_options: Mapping[str, Any]) -> None:
        self._endpoint = endpoint
        self._request_options = dict(request_options)
        self._operations: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def polling(self) -> ReadDrivenPolling:
        """A polling method to pass as ``polling=`` to one ``begin_*`` call."""
        return ReadDrivenPolling(
            0, path_format_arguments={"endpoint": self._endpoint}, **self._request_options
        )

    def track(self, instance_id: str, action: str, polling: ReadDrivenPolling) -> None:
        """Follow the operation ``action`` just started on ``instance_id`` (unless already done)."""
        with self._lock:
            if polling.finished():
                self._operations.pop(instance_id, None)
            else:
                self._operations[instance_id] = _Operation(action, polling)

    def failure(self, instance_id: str) -> ProviderError | None:
        """Advance the instance's operation; its error if it ended failed (reported once), else None.

        A status request that itself fails (throttled, unreachable) says
        nothing about the operation: it is tried again on the next read, and
        after a few such failures the operation is no longer followed.
        """
        with self._lock:
            operation = self._operations.get(instance_id)
        if operation is None:
            return None
        with operation.lock:
            try:
                operation.polling.step()
            except Exception as exc:  # a failed poll or a failed operation: the status tells which
                if operation.polling.status().lower() in _FAILED:
                    self._forget(instance_id, operation)
                    return ProviderError(
                        f"{operation.action} of {instance_id} failed: {describe(exc)}",
                        cloud_code=cloud_code(exc),
                    )
                operation.poll_failures += 1
                if operation.poll_failures >= _MAX_POLL_FAILURES:
                    self._forget(instance_id, operation)
                return None
            if operation.polling.finished():
                self._forget(instance_id, operation)
        return None

    def _forget(self, instance_id: str, operation: _Operation) -> None:
        with self._lock:
            if self._operations.get(instance_id) is operation:
                del self._operations[instance_id]

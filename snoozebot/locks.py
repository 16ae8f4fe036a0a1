"""One lock per instance, taken by every path that stops or starts one.

``instance stop|start``, ``schedule run``, ``idle check`` and the agent's REST
and UI actions all act through :func:`snoozebot.operations.run_action`, which
holds the locks of the instances it acts on for the length of the call: no two
of them act on the same instance at the same moment, on this machine, while
actions on different instances run in parallel. A lock is an exclusive
``flock`` on a file under ``locks/`` in the state directory, named by a hash of
provider and id (ids may hold any character); the kernel releases it when its
holder dies. With a shared store (PostgreSQL) each instance is also locked
across machines, by the store's advisory locks, once the local locks are
held. See ``docs/user-guide.md`` (locks) and ``docs/shared-state.md``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from snoozebot.errors import LockTimeout
from snoozebot.state import unwritable

if TYPE_CHECKING:  # `plugins list` imports this module for DEFAULT_LOCK_TIMEOUT alone
    from snoozebot.store import Store

__all__ = ["DEFAULT_LOCK_TIMEOUT", "LOCKS_DIRECTORY", "InstanceLocks"]

DEFAULT_LOCK_TIMEOUT = 60.0
"""Seconds an acting path waits for another one's instance locks (``--lock-timeout``)."""
LOCKS_DIRECTORY = "locks"
_POLL_SECONDS = 0.05


class InstanceLocks:
    """The per-instance locks of a state directory."""

    def __init__(self, state_directory: Path, store: Store | None = None) -> None:
        self.directory = state_directory / LOCKS_DIRECTORY
        self.store = store

    def _path(self, provider: str, instance_id: str) -> Path:
        import hashlib  # only when acting: `plugins list` reads DEFAULT_LOCK_TIMEOUT and no more

        digest = hashlib.sha256(f"{provider}\0{instance_id}".encode()).hexdigest()[:40]
        return self.directory / f"{digest}.lock"

    @contextlib.contextmanager
    def hold(self, provider: str, instance_ids: Sequence[str], *, timeout: float) -> Iterator[None]:
        """Hold the locks of ``instance_ids``, waiting at most ``timeout`` seconds for all of them.

        Locks are taken in one global order (by file name), so two holders of
        overlapping sets never wait for each other in a circle.
        """
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise unwritable(self.directory, exc) from None
        deadline = time.monotonic() + timeout
        paths = sorted({self._path(provider, iid): iid for iid in instance_ids}.items())
        with contextlib.ExitStack() as held:
            for path, instance_id in paths:
                try:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                except OSError as exc:  # a read-only or full state directory
                    raise unwritable(path, exc) from None
                held.callback(os.close, fd)
                _wait_for(fd, deadline, what=f"{provider} instance {instance_id}", timeout=timeout)
            if self.store is not None and self.store.shared:
                names = [f"instance:{provider}\0{iid}" for iid in instance_ids]
                what = f"{provider} instance {', '.join(dict.fromkeys(instance_ids))}"
                remaining = max(0.0, deadline - time.monotonic())
                held.enter_context(self.store.hold(names, timeout=remaining, what=what))
            yield


def _wait_for(fd: int, deadline: float, *, what: str, timeout: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another snoozebot run is acting on {what}; gave up waiting after {timeout:g}s "
                    "(--lock-timeout)"
                ) from None
            time.sleep(_POLL_SECONDS)

"""The state directory: the loaded set, locks, and atomic writes.

``$SNOOZEBOT_HOME``, else the platform's user state directory. Every write
goes to a temporary file that replaces the target atomically, under an
exclusive ``flock`` so concurrent CLIs never lose each other's changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from snoozebot.errors import LockTimeout, UsageError

__all__ = ["LoadedSet", "atomic_write_json", "exclusive_lock", "read_json", "state_dir"]

_POLL_SECONDS = 0.05


def state_dir() -> Path:
    """The state directory, created on first use."""
    env = os.environ.get("SNOOZEBOT_HOME")
    if env:
        path = Path(env)
    else:
        import platformdirs

        path = Path(platformdirs.user_state_dir("snoozebot"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create state directory {path}: {exc.strerror}") from None
    return path


@contextlib.contextmanager
def exclusive_lock(path: Path, *, timeout: float, what: str = "the state") -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``, waiting at most ``timeout`` seconds."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another snoozebot run holds the lock on {what} ({path}); gave up after {timeout:g}s"
                    ) from None
                time.sleep(_POLL_SECONDS)
        yield
    finally:
        os.close(fd)


def read_json(path: Path, default: Any) -> Any:
    """The JSON document at ``path``, or ``default`` when it does not exist or is unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default
    except (OSError, ValueError):
        return default


def atomic_write_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` through a temporary file and an atomic rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class LoadedSet:
    """The persistent set of loaded provider names."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / "loaded.json"
        self._lock = directory / "loaded.lock"

    def names(self) -> list[str]:
        data = read_json(self._path, {"loaded": []})
        loaded = data.get("loaded", []) if isinstance(data, dict) else []
        return sorted({str(n) for n in loaded})

    def update(self, change: Callable[[set[str]], None]) -> list[str]:
        """Apply ``change`` to the set under the lock and persist it atomically."""
        with exclusive_lock(self._lock, timeout=10.0, what="the loaded set"):
            names = set(self.names())
            change(names)
            atomic_write_json(self._path, {"loaded": sorted(names)})
            return sorted(names)

    def add(self, name: str) -> list[str]:
        return self.update(lambda names: names.add(name))

    def discard(self, name: str) -> list[str]:
        return self.update(lambda names: names.discard(name))

"""The state directory: the loaded set, locks, and atomic writes.

``$SNOOZEBOT_HOME``, else the platform's user state directory, created
``0700``; every file in it is created ``0600``. Every write goes to a
temporary file that replaces the target atomically, under an exclusive
``flock`` so concurrent CLIs never lose each other's changes.

Damaged state is never read as empty (docs/user-guide.md, "The state
directory"): a file that exists but cannot be read or parsed raises
:class:`~snoozebot.errors.StateDamaged` naming it, so no command acts on a
guess and no write replaces it; a directory that cannot be written raises
:class:`~snoozebot.errors.StateUnwritable`. Only a missing file means "empty".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from snoozebot.errors import LockTimeout, StateDamaged, StateUnwritable

__all__ = [
    "LoadedSet",
    "atomic_write_json",
    "damaged",
    "exclusive_lock",
    "read_json",
    "state_dir",
    "unwritable",
]

_POLL_SECONDS = 0.05
_PRIVATE = 0o077


def state_dir() -> Path:
    """The state directory, created ``0700`` on first use.

    The platform's default directory is also tightened to ``0700`` when an
    older release left it open; a ``$SNOOZEBOT_HOME`` that exists keeps its mode.
    """
    env = os.environ.get("SNOOZEBOT_HOME")
    if env:
        path = Path(env)
    else:
        import platformdirs

        path = Path(platformdirs.user_state_dir("snoozebot"))
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not env and stat.S_IMODE(path.stat().st_mode) & _PRIVATE:
            path.chmod(0o700)
    except OSError as exc:
        raise StateUnwritable(str(path), f"cannot create state directory {path}: {exc.strerror}") from None
    return path


def damaged(path: Path, reason: str) -> StateDamaged:
    """The one-line error for a state file that exists but cannot be read or parsed."""
    return StateDamaged(
        str(path),
        f"state file {path} cannot be read ({reason}); it was left as it is: "
        "restore it from a backup, or move it aside to start afresh",
    )


def unwritable(
    path: Path, exc: OSError | str, *, consequence: str = "nothing was changed"
) -> StateUnwritable:
    """The one-line error for a state file that cannot be written (read-only, full, not ours)."""
    reason = exc if isinstance(exc, str) else exc.strerror or str(exc)
    return StateUnwritable(str(path), f"cannot write state file {path} ({reason}); {consequence}")


@contextlib.contextmanager
def exclusive_lock(path: Path, *, timeout: float, what: str = "the state") -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``, waiting at most ``timeout`` seconds."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise unwritable(path, exc) from None
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
    """The JSON document at ``path``, or ``default`` when it does not exist.

    A file that exists but cannot be read or parsed (an empty file included:
    atomic writes never leave one) raises :class:`StateDamaged`.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return default
    except OSError as exc:
        raise damaged(path, exc.strerror or str(exc)) from None
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise damaged(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise damaged(path, f"not valid JSON: {exc.msg}, line {exc.lineno} column {exc.colno}") from None


def atomic_write_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` (mode ``0600``) through a temporary file and an atomic rename.

    A directory that cannot take the write raises :class:`StateUnwritable`;
    ``path`` then keeps its previous bytes.
    """
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise unwritable(path, exc) from None
        raise


class LoadedSet:
    """The persistent set of loaded provider names."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / "loaded.json"
        self._lock = directory / "loaded.lock"

    def names(self) -> list[str]:
        """The loaded names; StateDamaged when ``loaded.json`` is not what we wrote."""
        data = read_json(self._path, {"loaded": []})
        loaded = data.get("loaded") if isinstance(data, dict) else None
        if not isinstance(loaded, list) or not all(isinstance(n, str) for n in loaded):
            raise damaged(self._path, 'expected {"loaded": [names]}')
        return sorted(set(loaded))

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

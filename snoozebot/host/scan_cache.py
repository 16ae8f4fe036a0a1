"""A cache of what the metadata scan found, keyed by the state of the environment.

Reading every installed distribution's metadata (and checking plugin
requirements against it) costs more than the rest of ``plugins list``. Like
stevedore's entry-point cache, the result is kept with a *stamp*: the
interpreter, this snoozebot's version, and the modification time of every
``sys.path`` entry and of the distribution folders inside it. Installing,
upgrading or removing any distribution changes the stamp, and the scan runs
again. ``plugins discover`` always scans afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from snoozebot import __version__
from snoozebot.errors import StateDamaged, StateUnwritable
from snoozebot.state import atomic_write_json, read_json

__all__ = ["ScanCache", "environment_stamp", "known_targets"]

_FORMAT = 1


def environment_stamp() -> str:
    """A digest that changes whenever a distribution is installed, upgraded or removed."""
    digest = hashlib.sha256(f"{_FORMAT}\0{sys.executable}\0{sys.prefix}\0{__version__}".encode())
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                stamps = sorted(
                    f"{item.name}:{item.stat().st_mtime_ns}"
                    for item in listing
                    if item.name.endswith((".dist-info", ".egg-info", ".pth"))
                )
            digest.update(f"{entry}\0{os.stat(entry or '.').st_mtime_ns}\0".encode())
            digest.update("\0".join(stamps).encode())
        except OSError:
            digest.update(f"{entry}\0-\0".encode())
    return digest.hexdigest()


class ScanCache:
    """One JSON document in the state directory, valid for one environment stamp."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / "scan-cache.json"

    def get(self, stamp: str) -> Any:
        """The cached value for ``stamp``, or None (a damaged cache is rebuilt, never an error)."""
        try:
            data = read_json(self._path, None)
        except StateDamaged:
            return None
        if isinstance(data, dict) and data.get("stamp") == stamp:
            return data.get("value")
        return None

    def put(self, stamp: str, value: Any) -> None:
        """Remember ``value`` for ``stamp`` (best effort: a read-only state dir just skips it)."""
        with contextlib.suppress(StateUnwritable):
            atomic_write_json(self._path, {"stamp": stamp, "value": value})


def known_targets(directory: Path) -> dict[str, str]:
    """``{provider: "module:Class"}`` from a still-valid cache, without scanning; else empty.

    Lets a worker import its entry point directly instead of searching for it.
    """
    cached = ScanCache(directory).get(environment_stamp())
    try:
        return {str(p["name"]): str(p["target"]) for p in cached["plugins"] if not p.get("error")}
    except (KeyError, TypeError):
        return {}

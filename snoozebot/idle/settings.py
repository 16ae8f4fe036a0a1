"""Idle-check settings: thresholds and nap time from options, else ``[idle]``, else defaults.

::

    [idle]
    naptime = "45m"        # 30m, 2h, 90s; a bare number is minutes; 0 acts at once
    cpu = 10               # % of all cores together
    network = 50           # kB/s, loopback excluded
    disk = 100             # kB/s
    gpu = 5                # % of the busiest GPU
    ignore_sessions = false
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from snoozebot.errors import UsageError
from snoozebot.idle.readings import DEFAULT_THRESHOLDS, Thresholds

__all__ = ["DEFAULT_NAPTIME", "IdleSettings", "parse_naptime", "resolve_settings"]

DEFAULT_NAPTIME = dt.timedelta(minutes=30)
_NAPTIME = re.compile(r"^(\d+(?:\.\d+)?)\s*([smh]?)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "": 60, "h": 3600}
_THRESHOLD_KEYS = ("cpu", "network", "disk", "gpu")
_KEYS = {"naptime", "ignore_sessions", *_THRESHOLD_KEYS}


def parse_naptime(value: Any) -> dt.timedelta:
    """``30m``, ``2h``, ``90s``; a bare number is minutes; ``0`` acts on the first idle reading."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    text = str(value).strip().lower() if numeric or isinstance(value, str) else ""
    match = _NAPTIME.match(text)
    if not match:
        raise UsageError(f"bad nap time {value!r} (expected e.g. 30m, 2h, 90s, or minutes as a number)")
    return dt.timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


@dataclass(frozen=True)
class IdleSettings:
    """Everything that decides idleness, resolved."""

    thresholds: Thresholds = DEFAULT_THRESHOLDS
    naptime: dt.timedelta = DEFAULT_NAPTIME
    ignore_sessions: bool = False


def _threshold(key: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UsageError(f"{where}: {key} must be a number >= 0, got {value!r}")
    return float(value)


def resolve_settings(
    table: Mapping[str, Any],
    *,
    where: str = "[idle]",
    naptime: str | None = None,
    thresholds: Mapping[str, float | None] | None = None,
    ignore_sessions: bool = False,
) -> IdleSettings:
    """The ``[idle]`` table with command-line values on top; a bad value is a UsageError."""
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
    limits = {k: _threshold(k, table[k], where) for k in _THRESHOLD_KEYS if k in table}
    limits.update({k: v for k, v in (thresholds or {}).items() if v is not None})
    configured_ignore = table.get("ignore_sessions", False)
    if not isinstance(configured_ignore, bool):
        raise UsageError(f"{where}: ignore_sessions must be true or false")
    if naptime is not None:
        nap = parse_naptime(naptime)
    elif "naptime" in table:
        try:
            nap = parse_naptime(table["naptime"])
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
    else:
        nap = DEFAULT_NAPTIME
    return IdleSettings(
        thresholds=replace(DEFAULT_THRESHOLDS, **limits),
        naptime=nap,
        ignore_sessions=ignore_sessions or configured_ignore,
    )

"""``[notify]``: where notifications go and which are sent (docs/notifications.md).

::

    [notify]
    urls = ["json://127.0.0.1:8089/hooks", "mailto://user:pass@smtp.example.com?to=ops@example.com"]
    warn_before = "15m"            # lead time of a stop warning; "0" disables warnings
    events = ["warning", "action", "failure"]
    base_url = "http://127.0.0.1:8080"   # the agent as people reach it; postpone links point here

Checked before anything runs: a bad value, or a ``[notify]`` table without
the ``notify`` extra (Apprise) installed, is exit 2 naming the problem.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from snoozebot.errors import UsageError
from snoozebot.idle.settings import parse_naptime

__all__ = ["DEFAULT_WARN_BEFORE", "EVENTS", "Event", "NotifySettings", "load_notify_settings"]

Event = Literal["warning", "action", "failure"]
EVENTS: tuple[Event, ...] = ("warning", "action", "failure")
DEFAULT_WARN_BEFORE = dt.timedelta(minutes=15)
_KEYS = {"urls", "warn_before", "events", "base_url"}


@dataclass(frozen=True)
class NotifySettings:
    """The validated ``[notify]`` table; ``urls`` empty means nothing is sent."""

    urls: tuple[str, ...] = ()
    warn_before: dt.timedelta = DEFAULT_WARN_BEFORE
    events: frozenset[Event] = frozenset(EVENTS)
    base_url: str | None = None

    def wants(self, event: Event) -> bool:
        """Whether ``event`` messages are sent (warnings also need a lead time)."""
        if not self.urls or event not in self.events:
            return False
        return event != "warning" or self.warn_before > dt.timedelta(0)


def _strings(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{where}.{key}: expected a list of strings, got {value!r}")
    return [v.strip() for v in value]


def load_notify_settings(table: Mapping[str, Any], *, where: str = "[notify]") -> NotifySettings:
    """The settings of a ``[notify]`` table (empty: nothing is sent); UsageError when invalid."""
    if not table:
        return NotifySettings()
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    urls = _strings(table.get("urls", []), "urls", where)
    for url in urls:
        if "://" not in url:
            raise UsageError(f"{where}.urls: not an Apprise URL (SCHEME://...): {url.split(':')[0]!r}")
    if urls and importlib.util.find_spec("apprise") is None:
        raise UsageError(
            f"{where}: notifications need the notify extra (Apprise):"
            " pip install '.[notify]' in Snoozebot's checkout"
        )
    events = _strings(table.get("events", list(EVENTS)), "events", where)
    for event in events:
        if event not in EVENTS:
            raise UsageError(f"{where}.events: unknown event {event!r} (known: {', '.join(EVENTS)})")
    try:
        warn_before = parse_naptime(table.get("warn_before", "15m"))
    except UsageError as exc:
        raise UsageError(f"{where}.warn_before: {exc}") from None
    base_url = table.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))):
        raise UsageError(f"{where}.base_url: expected an http:// or https:// URL, got {base_url!r}")
    chosen = frozenset(e for e in EVENTS if e in events)
    return NotifySettings(tuple(urls), warn_before, chosen, base_url.rstrip("/") if base_url else None)

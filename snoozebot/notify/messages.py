"""The messages: short plain text naming instance, provider, target and scope (docs/notifications.md).

Pure functions from what a run did to :class:`Notice` values; nothing here
sends anything. One digest per event and run: ``action`` (what was stopped
and started), ``failure`` (failed instances and scopes, with the error) and
``warning`` (stops coming within the lead time, with postpone links).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from snoozebot.notify.settings import Event

__all__ = ["CHOICES", "Notice", "Subject", "Upcoming", "action_digest", "failure_digest", "warning_digest"]

CHOICES: Mapping[str, str] = {"+1h": "postpone 1 hour", "+2h": "postpone 2 hours", "skip": "skip this stop"}
"""The postpone choices a warning links to, and how a message words them."""


@dataclass(frozen=True)
class Subject:
    """What a line is about: an instance (or a whole provider/scope when ``instance`` is None)."""

    provider: str
    instance: str | None = None
    target: str | None = None
    scope: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        parts = [self.instance or "(every instance)", f"provider {self.provider}"]
        parts.append(f"target {self.target or '-'}")
        parts.append("scope " + (", ".join(f"{k}={v}" for k, v in sorted(self.scope.items())) or "-"))
        return " · ".join(parts)


@dataclass(frozen=True)
class Notice:
    """One message: its event, a title, a plain-text body."""

    event: Event
    title: str
    body: str


@dataclass(frozen=True)
class Upcoming:
    """A stop coming within the lead time, and its postpone links by choice (empty without base_url)."""

    subject: Subject
    why: str
    """What stops it: ``schedule NAME``, ``idle for 30m``."""
    boundary: dt.datetime
    zone: dt.tzinfo
    links: Mapping[str, str] = field(default_factory=dict)


def subject_of(row: Any) -> Subject:
    """The subject of a run's row or failure (``target`` and ``scope`` when the row has them)."""
    return Subject(row.provider, getattr(row, "id", None), getattr(row, "target", None),
                   getattr(row, "scope", None) or {})


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def action_digest(stopped: Sequence[Subject], started: Sequence[Subject]) -> Notice | None:
    """What a run stopped and started; None when it did neither."""
    if not stopped and not started:
        return None
    lines: list[str] = []
    groups = [(verb, group) for verb, group in (("stopped", stopped), ("started", started)) if group]
    for verb, group in groups:
        lines += [f"{verb.capitalize()}:", *(f"  {s.text()}" for s in group)]
    title = ", ".join(f"{verb} {_plural(len(group), 'instance')}" for verb, group in groups)
    return Notice("action", f"snoozebot: {title}", "\n".join(lines))


def failure_digest(failures: Sequence[tuple[Subject, str]]) -> Notice | None:
    """Failed instances and scopes with their errors; None when nothing failed."""
    if not failures:
        return None
    lines = [f"{subject.text()}: {message}" for subject, message in failures]
    return Notice("failure", f"snoozebot: {_plural(len(failures), 'failure')}", "\n".join(lines))


def _when(moment: dt.datetime, zone: dt.tzinfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def warning_digest(upcoming: Sequence[Upcoming], *, reason: str = "their schedule") -> Notice | None:
    """One warning for every stop coming soon, with its postpone links; None when none is."""
    if not upcoming:
        return None
    lines = [f"These instances will be stopped by {reason}:", ""]
    for item in upcoming:
        lines.append(f"{item.subject.text()} · {item.why}")
        lines.append(f"  stops at {_when(item.boundary, item.zone)}")
        lines += [f"  {CHOICES[choice]}: {url}" for choice, url in item.links.items()]
        lines.append("")
    if not any(item.links for item in upcoming):
        lines.append("(postpone links need [notify] base_url: the agent's address)")
    title = f"snoozebot: {_plural(len(upcoming), 'instance')} will be stopped soon"
    return Notice("warning", title, "\n".join(lines).rstrip())

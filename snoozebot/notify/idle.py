"""Warnings before an idle stop (``idle check --warn-before``, docs/notifications.md).

:class:`IdleWarning` is the :class:`snoozebot.idle.check.StopWarning` the CLI
passes to the check: the stop planned at idle-since + nap time is one
boundary, warned about once, with postpone links when ``base_url`` is set;
its overrides (postponed, skipped) come from the same store as the
schedules'. This machine's identity is asked for only when it is needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from snoozebot import sdk
from snoozebot.notify.deliver import Report, deliver
from snoozebot.notify.messages import Subject, Upcoming, warning_digest
from snoozebot.notify.settings import NotifySettings
from snoozebot.notify.warnings import links
from snoozebot.overrides import OverrideStore

__all__ = ["IdleWarning"]


class IdleWarning:
    """The overrides and the warning of this machine's idle stop."""

    def __init__(
        self,
        settings: NotifySettings,
        store: OverrideStore,
        identity: Callable[[], sdk.Identity],
        *,
        why: str,
        report: Report,
    ) -> None:
        self.settings, self.store, self.identity = settings, store, identity
        self.why, self.report = why, report

    def due(self, scheduled: dt.datetime) -> dt.datetime | None:
        """The planned stop, moved by a postpone link; None when a link skipped it."""
        me = self.identity()
        found = self.store.for_instances(dt.datetime.now(dt.UTC)).get((me.provider, me.instance_id))
        if found is None or scheduled not in found.moves:
            return scheduled
        return found.moves[scheduled]

    def warn(self, due: dt.datetime) -> None:
        """Send the warning for the stop at ``due``, unless it was sent before."""
        if not self.settings.urls or "warning" not in self.settings.events:
            return
        me = self.identity()
        if not self.store.mark_warned_many([(me.provider, me.instance_id, due)]):
            return
        secret = self.store.secret() if self.settings.base_url else b""
        provider, instance = me.provider, me.instance_id
        found = links(self.settings, secret, provider=provider, instance=instance, boundary=due, zone="UTC")
        upcoming = Upcoming(Subject(provider, instance), self.why, due, dt.UTC, found)
        notice = warning_digest([upcoming], reason="the idle check")
        deliver(self.settings.urls, [notice] if notice else [], report=self.report)

"""Warnings before a stop: which instances a schedule stops within the lead time, warned once each.

The question "does a stop boundary fall within ``warn_before`` after now, for
a running instance?" is the schedule's own decision over the window
``(now, now + warn_before]``, overrides applied (a snoozed instance is not
warned; a postponed stop is warned again before its new time). Each
``(instance, boundary)`` is warned once: the store remembers it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from snoozebot import sdk
from snoozebot.notify.messages import CHOICES, Notice, Subject, Upcoming, warning_digest
from snoozebot.notify.settings import NotifySettings
from snoozebot.notify.tokens import PostponeToken
from snoozebot.overrides import OverrideMap, OverrideStore
from snoozebot.schedule.decision import decide
from snoozebot.schedule.grammar import Schedule

__all__ = ["links", "warning_notices"]


def links(
    settings: NotifySettings, secret: bytes, *, provider: str, instance: str, boundary: dt.datetime, zone: str
) -> dict[str, str]:
    """A postpone link per choice (none without ``base_url``)."""
    if settings.base_url is None:
        return {}
    tokens = {choice: PostponeToken(provider, instance, boundary, choice, zone) for choice in CHOICES}
    base = f"{settings.base_url}/postpone"
    return {choice: f"{base}/{token.encode(secret)}" for choice, token in tokens.items()}


def _coming(
    instances: Sequence[sdk.Instance], schedules: Mapping[str, Schedule], overrides: OverrideMap, *,
    now: dt.datetime, lead: dt.timedelta,
) -> list[tuple[sdk.Instance, Schedule, dt.datetime]]:
    found = []
    for inst in instances:
        held = overrides.get((inst.provider, inst.id))
        decision = decide(inst, schedules, after=now, now=now + lead, overrides=held)
        schedule = schedules.get(decision.schedule or "")
        if decision.action == "stop" and decision.boundary is not None and schedule is not None:
            found.append((inst, schedule, decision.boundary.at))
    return found


def warning_notices(
    settings: NotifySettings,
    instances: Sequence[sdk.Instance],
    schedules: Mapping[str, Schedule],
    store: OverrideStore,
    *,
    now: dt.datetime,
) -> list[Notice]:
    """The run's one warning digest (or none), remembering every instance it warns about."""
    if not settings.wants("warning"):
        return []
    coming = _coming(instances, schedules, store.for_instances(now), now=now, lead=settings.warn_before)
    fresh = store.mark_warned_many([(inst.provider, inst.id, at) for inst, _, at in coming])
    secret = store.secret() if settings.base_url and fresh else b""
    upcoming = [
        Upcoming(Subject(inst.provider, inst.id), f"schedule {schedule.name}", at, schedule.timezone,
                 links(settings, secret, provider=inst.provider, instance=inst.id, boundary=at,
                       zone=schedule.timezone.key))
        for inst, schedule, at in coming
        if (inst.provider, inst.id, at) in fresh
    ]
    digest = warning_digest(upcoming)
    return [digest] if digest else []

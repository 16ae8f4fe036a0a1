"""Cron periods: ``{ cron = "0 19 * * 1-5", action = "stop" }`` (docs/schedules.md#cron-periods).

Five fields (minute, hour, day of month, month, day of week; day-of-week 0
and 7 are Sunday), parsed and iterated by ``cronsim``. The expression is
matched against *wall-clock* times of the schedule's zone: this module yields
naive local times only, and :mod:`.boundaries` turns them into instants with
the same daylight-saving rules as the day/time periods (a missing time happens
at the first minute after the gap, a repeated one once). cronsim's own DST
handling (Debian cron's quirks) is never used, since no zone is given to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cronsim import CronSim, CronSimError

from snoozebot.errors import UsageError

__all__ = ["CRON_KEYS", "CronAction", "CronPeriod", "parse_cron_period"]

CronAction = Literal["start", "stop"]
CRON_KEYS = frozenset({"cron", "action"})
"""The keys of a cron period (a period with a ``cron`` key is one)."""

_FIELDS = 5
_ONE_MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class CronPeriod:
    """A cron expression and the boundary it makes at each matching local minute."""

    expression: str
    action: CronAction

    def local_times(self, first: dt.datetime, last: dt.datetime) -> Iterator[dt.datetime]:
        """Naive wall-clock minutes ``first <= t <= last`` that the expression matches."""
        for moment in CronSim(self.expression, first.replace(second=0, microsecond=0) - _ONE_MINUTE):
            if moment > last:
                return
            if moment >= first:
                yield moment


def parse_cron_period(value: Mapping[str, Any], *, where: str) -> CronPeriod:
    """One cron period table; a UsageError names ``where`` and the field."""
    unknown = sorted(set(value) - CRON_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} in a cron period (allowed: cron, action)")
    expression = value.get("cron")
    if not isinstance(expression, str) or len(expression.split()) != _FIELDS:
        raise UsageError(
            f"{where}.cron: bad cron expression {expression!r} "
            '(expected five fields: minute hour day-of-month month day-of-week, e.g. "0 19 * * 1-5")'
        )
    text = " ".join(expression.split())
    try:
        CronSim(text, dt.datetime(2000, 1, 1))
    except (CronSimError, ValueError) as exc:
        raise UsageError(f"{where}.cron: bad cron expression {expression!r} ({exc})") from None
    action = value.get("action")
    if action not in ("start", "stop"):
        got = "missing" if action is None else repr(action)
        raise UsageError(f'{where}.action: {got}; a cron period needs action = "start" or "stop"')
    return CronPeriod(text, "start" if action == "start" else "stop")

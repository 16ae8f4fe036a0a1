"""The decision step of a run: every tagged instance decided, the acting ones grouped into order tiers.

Pure and in memory (no cloud call), so it is what ``benchmarks/bench_schedule.py``
times: 1,000 instances over 3 tiers with calendars (docs/schedules.md#order).
At a start boundary lower ``snoozebot-order`` tiers go first; at a stop
boundary higher ones do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snoozebot import sdk
from snoozebot.results import Action
from snoozebot.schedule.activity import ActivityReport
from snoozebot.schedule.decision import Decision, decide
from snoozebot.schedule.grammar import Schedule

if TYPE_CHECKING:
    from snoozebot.overrides import InstanceOverrides

__all__ = ["Decided", "Plan", "Tier", "plan_run"]

Decided = tuple[sdk.Instance, Decision]
"""One instance and what the run does to it."""


@dataclass(frozen=True)
class Tier:
    """The instances of one ``snoozebot-order`` value that one action applies to."""

    order: int
    members: list[Decided]


@dataclass(frozen=True)
class Plan:
    """Every tagged instance decided, in listing order."""

    decided: list[Decided]

    def tiers(self, action: Action) -> list[Tier]:
        """The instances ``action`` applies to, by tier in acting order (starts up, stops down)."""
        groups: dict[int, list[Decided]] = {}
        for inst, decision in self.decided:
            if decision.action == action:
                groups.setdefault(decision.order, []).append((inst, decision))
        return [Tier(n, groups[n]) for n in sorted(groups, reverse=action == "stop")]

    def deferred(self) -> dict[str, dt.datetime]:
        """The stop boundary each deferred instance is still owed."""
        owed = ((inst.id, d.boundary) for inst, d in self.decided if d.action == "defer")
        return {iid: boundary.at for iid, boundary in owed if boundary is not None}


def plan_run(
    instances: Sequence[sdk.Instance],
    schedules: Mapping[str, Schedule],
    *,
    after: dt.datetime,
    now: dt.datetime,
    activity: Mapping[str, ActivityReport] | None = None,
    deferred: Mapping[str, dt.datetime] | None = None,
    overrides: Mapping[str, InstanceOverrides] | None = None,
) -> Plan:
    """Decide every instance over the window ``(after, now]`` (each map is by instance id)."""
    reports, owed, moved = activity or {}, deferred or {}, overrides or {}
    return Plan(
        [
            (inst, decide(inst, schedules, after=after, now=now, activity=reports.get(inst.id),
                          deferred=owed.get(inst.id), overrides=moved.get(inst.id)))
            for inst in instances
        ]
    )

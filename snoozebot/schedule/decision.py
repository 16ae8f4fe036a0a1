"""What a schedule run does to one instance, and why: a pure function of the inputs.

:func:`decide` looks at an instance's tags and state, the schedules, and the
window ``(previous run, now]``, and returns a :class:`Decision`. The order of
the checks is the order of the reasons a user reads in ``schedule explain``:
opt-out, unknown schedule, snooze-until, the latest boundary, the state.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from snoozebot import sdk
from snoozebot.schedule.boundaries import Boundary, latest_boundary, local_to_utc
from snoozebot.schedule.grammar import OPT_OUT, Schedule

if TYPE_CHECKING:
    from snoozebot.overrides import InstanceOverrides

__all__ = [
    "SCHEDULE_TAG",
    "SNOOZE_TAG",
    "Decision",
    "DecisionAction",
    "decide",
    "parse_snooze_until",
]

SCHEDULE_TAG = "snoozebot-schedule"
SNOOZE_TAG = "snoozebot-snooze-until"

DecisionAction = Literal["stop", "start", "none", "skip"]

_LABEL_SAFE = re.compile(r"^(\d{4})(\d{2})(\d{2})[tT](\d{2})(\d{2})$")
_STOPPABLE = {sdk.InstanceState.RUNNING, sdk.InstanceState.PENDING}
_STARTABLE = {sdk.InstanceState.STOPPED, sdk.InstanceState.SUSPENDED}


@dataclass(frozen=True)
class Decision:
    """The action for one instance, the reason in words, and an error when it cannot be decided."""

    action: DecisionAction
    reason: str
    schedule: str | None = None
    boundary: Boundary | None = None
    snooze_until: dt.datetime | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None

    def error(self) -> dict[str, Any] | None:
        """The JSON ``error`` member: null, or ``{"code", "message"}``."""
        return {"code": self.error_code, "message": self.reason} if self.error_code else None


def parse_snooze_until(value: str, zone: ZoneInfo) -> dt.datetime:
    """``snoozebot-snooze-until`` as a UTC instant; raises ValueError when unparseable.

    Accepts an ISO 8601 date (00:00 that day) or date-time, or the label-safe
    ``YYYYMMDDtHHMM``; values without an offset are local to ``zone``.
    """
    text = value.strip()
    match = _LABEL_SAFE.match(text)
    try:
        if match:
            year, month, day, hour, minute = (int(g) for g in match.groups())
            parsed = dt.datetime(year, month, day, hour, minute)
        else:
            parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"bad {SNOOZE_TAG} value {value!r}"
            " (expected YYYY-MM-DD, an ISO 8601 date-time, or YYYYMMDDtHHMM)"
        ) from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(dt.UTC)
    return local_to_utc(parsed, zone) + dt.timedelta(seconds=parsed.second, microseconds=parsed.microsecond)


def _by_boundary(instance: sdk.Instance, schedule: Schedule, boundary: Boundary | None) -> Decision:
    name, state = schedule.name, instance.state
    if boundary is None:
        return Decision("none", "no boundary of the schedule since the previous run", name)
    when = boundary.local(schedule.timezone).isoformat()
    if state is sdk.InstanceState.UNKNOWN:
        return Decision(
            "none", f"{boundary.action} boundary at {when}, but the state is unknown", name, boundary
        )
    wanted = _STOPPABLE if boundary.action == "stop" else _STARTABLE
    if state in wanted:
        return Decision(
            boundary.action,
            f"{boundary.action} boundary at {when}; instance is {state.value}",
            name,
            boundary,
        )
    return Decision(
        "none",
        f"{boundary.action} boundary at {when}; nothing to do, instance is {state.value}",
        name,
        boundary,
    )


def decide(
    instance: sdk.Instance,
    schedules: Mapping[str, Schedule],
    *,
    after: dt.datetime,
    now: dt.datetime,
    overrides: InstanceOverrides | None = None,
) -> Decision:
    """The action a run over ``(after, now]`` takes for ``instance``, its ``overrides`` applied."""
    tag = instance.tags.get(SCHEDULE_TAG, "").strip()
    if not tag:
        return Decision("none", f"no {SCHEDULE_TAG} tag")
    if tag.lower() == OPT_OUT:
        return Decision("skip", f"{SCHEDULE_TAG}={tag}: opted out", OPT_OUT)
    schedule = schedules.get(tag)
    if schedule is None:
        known = ", ".join(sorted(schedules)) or "none configured"
        return Decision(
            "none", f"unknown schedule {tag!r} (known: {known})", tag, error_code="unknown_schedule"
        )
    snooze = instance.tags.get(SNOOZE_TAG, "").strip()
    if snooze:
        try:
            until = parse_snooze_until(snooze, schedule.timezone)
        except ValueError as exc:
            return Decision("none", str(exc), tag, error_code="bad_snooze_until")
        if now < until:
            local = until.astimezone(schedule.timezone).isoformat()
            return Decision("skip", f"snoozed until {local}", tag, snooze_until=until)
    if overrides is None:
        return _by_boundary(instance, schedule, latest_boundary(schedule, after, now))
    held = overrides.snooze_until
    if held is not None and now < held:
        local = held.astimezone(schedule.timezone).isoformat()
        return Decision("skip", f"snoozed until {local} (instance snooze)", tag, snooze_until=held)
    return _by_boundary(instance, schedule, overrides.latest(schedule, after, now))

"""What a schedule run does to one instance, and why: a pure function of the inputs.

:func:`decide` looks at an instance's tags and state, the schedules, and the
window ``(previous run, now]``, and returns a :class:`Decision`. The order of
the checks is the order of the reasons a user reads in ``schedule explain``:
opt-out, unknown schedule, the order tag, snooze-until, the latest boundary
(or a deferred stop still owed), the state, and for a stop under
``unless_busy`` the instance's last activity report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from snoozebot import sdk
from snoozebot.schedule.activity import ActivityReport
from snoozebot.schedule.boundaries import Boundary, latest_boundary, local_to_utc
from snoozebot.schedule.grammar import OPT_OUT, Schedule

if TYPE_CHECKING:
    from snoozebot.overrides import InstanceOverrides

__all__ = [
    "ORDER_TAG",
    "SCHEDULE_TAG",
    "SNOOZE_TAG",
    "Decision",
    "DecisionAction",
    "decide",
    "parse_order",
    "parse_snooze_until",
]

SCHEDULE_TAG = "snoozebot-schedule"
SNOOZE_TAG = "snoozebot-snooze-until"
ORDER_TAG = "snoozebot-order"

DecisionAction = Literal["stop", "start", "none", "skip", "defer"]

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
    order: int = 0

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


def parse_order(instance: sdk.Instance) -> int:
    """The ``snoozebot-order`` tag as an integer (0 without one); raises ValueError otherwise."""
    text = instance.tags.get(ORDER_TAG, "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"bad {ORDER_TAG} value {text!r} (expected an integer, e.g. 0, 1, -1)") from None


def _by_boundary(
    instance: sdk.Instance, schedule: Schedule, boundary: Boundary | None, *, retried: bool = False
) -> Decision:
    name, state = schedule.name, instance.state
    if boundary is None:
        return Decision("none", "no boundary of the schedule since the previous run", name)
    when = boundary.local(schedule.timezone).isoformat()
    if retried:
        when += " (deferred, tried again)"
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


def _unless_busy(
    decision: Decision, schedule: Schedule, activity: ActivityReport | None, now: dt.datetime
) -> Decision:
    """A stop becomes ``defer`` while the last report is busy and within the schedule's span."""
    span = schedule.unless_busy
    if decision.action != "stop" or span is None or activity is None:
        return decision
    if not activity.busy_within(now, span):
        return decision
    age = now - activity.at
    readings = activity.busy_readings()
    return replace(
        decision,
        action="defer",
        reason=(
            f"{decision.reason}; deferred: reported busy {int(age.total_seconds() // 60)} min before now"
            f"{f' ({readings})' if readings else ''}, within unless_busy {_span_text(span)}; "
            "tried again each run until the next start boundary"
        ),
    )


def _span_text(span: dt.timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def _owed_stop(
    schedule: Schedule,
    after: dt.datetime,
    now: dt.datetime,
    deferred: dt.datetime | None,
    overrides: InstanceOverrides | None = None,
) -> tuple[Boundary | None, bool]:
    """The boundary that decides (postponed or skipped stops applied), and whether it is a
    deferred stop tried again. A deferred stop is owed while no boundary of the schedule followed it.
    """
    latest = overrides.latest if overrides is not None else latest_boundary
    boundary = latest(schedule, after, now)
    if boundary is not None or deferred is None or schedule.unless_busy is None or deferred > now:
        return boundary, False
    if latest_boundary(schedule, deferred, now) is not None:
        return None, False
    return Boundary(deferred, "stop"), True


def decide(
    instance: sdk.Instance,
    schedules: Mapping[str, Schedule],
    *,
    after: dt.datetime,
    now: dt.datetime,
    activity: ActivityReport | None = None,
    deferred: dt.datetime | None = None,
    overrides: InstanceOverrides | None = None,
) -> Decision:
    """The action a run over ``(after, now]`` takes for ``instance``, its ``overrides`` applied.

    ``activity`` is the instance's last activity report, ``deferred`` the stop
    boundary an earlier run deferred for it (both only matter under ``unless_busy``).
    """
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
    try:
        order = parse_order(instance)
    except ValueError as exc:
        return Decision("none", str(exc), tag, error_code="bad_order")
    snooze = instance.tags.get(SNOOZE_TAG, "").strip()
    if snooze:
        try:
            until = parse_snooze_until(snooze, schedule.timezone)
        except ValueError as exc:
            return Decision("none", str(exc), tag, error_code="bad_snooze_until")
        if now < until:
            local = until.astimezone(schedule.timezone).isoformat()
            return Decision("skip", f"snoozed until {local}", tag, snooze_until=until, order=order)
    held = overrides.snooze_until if overrides is not None else None
    if held is not None and now < held:
        local = held.astimezone(schedule.timezone).isoformat()
        reason = f"snoozed until {local} (instance snooze)"
        return Decision("skip", reason, tag, snooze_until=held, order=order)
    boundary, retried = _owed_stop(schedule, after, now, deferred, overrides)
    decision = replace(_by_boundary(instance, schedule, boundary, retried=retried), order=order)
    return _unless_busy(decision, schedule, activity, now)

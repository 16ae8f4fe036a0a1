"""Scheduled snoozing across a fleet (``snoozebot schedule``; docs/schedules.md).

- :mod:`.grammar`: the ``[schedules.NAME]`` config tables, validated up front;
  :mod:`.cron` (cron periods) and :mod:`.calendars` (``[calendars.NAME]``) beside it;
- :mod:`.boundaries`: where on/off boundaries fall in absolute time (zones, DST);
- :mod:`.decision`: what a run does to one instance and why (a pure function);
- :mod:`.plan`: the decision step over a provider's instances, grouped into order tiers;
- :mod:`.acting`: one audited batch per tier, waiting for started tiers;
- :mod:`.activity` and :mod:`.deferrals`: activity reports, and the stops owed to busy instances;
- :mod:`.runner`: list once, decide, act, remember the run.
"""

from snoozebot.schedule.activity import ActivityReport, ActivityStore
from snoozebot.schedule.boundaries import Boundary, boundaries_between, latest_boundary, next_boundaries
from snoozebot.schedule.calendars import Calendar
from snoozebot.schedule.cron import CronPeriod
from snoozebot.schedule.decision import (
    ORDER_TAG,
    SCHEDULE_TAG,
    SNOOZE_TAG,
    Decision,
    decide,
    parse_snooze_until,
)
from snoozebot.schedule.deferrals import DeferralRecord
from snoozebot.schedule.grammar import OPT_OUT, Period, Schedule, load_schedules
from snoozebot.schedule.plan import Plan, plan_run
from snoozebot.schedule.rows import Row
from snoozebot.schedule.runner import RunRecord, RunReport, run_all, window_start

__all__ = [
    "OPT_OUT",
    "ORDER_TAG",
    "SCHEDULE_TAG",
    "SNOOZE_TAG",
    "ActivityReport",
    "ActivityStore",
    "Boundary",
    "Calendar",
    "CronPeriod",
    "Decision",
    "DeferralRecord",
    "Period",
    "Plan",
    "Row",
    "RunRecord",
    "RunReport",
    "Schedule",
    "boundaries_between",
    "decide",
    "latest_boundary",
    "load_schedules",
    "next_boundaries",
    "parse_snooze_until",
    "plan_run",
    "run_all",
    "window_start",
]

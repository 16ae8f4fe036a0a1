"""Scheduled snoozing across a fleet (``snoozebot schedule``; DESIGN.md section 4a).

- :mod:`.grammar`: the ``[schedules.NAME]`` config tables, validated up front;
- :mod:`.boundaries`: where on/off boundaries fall in absolute time (zones, DST);
- :mod:`.decision`: what a run does to one instance and why (a pure function);
- :mod:`.runner`: list once, decide, act in audited batches, remember the run.
"""

from snoozebot.schedule.boundaries import Boundary, boundaries_between, latest_boundary, next_boundaries
from snoozebot.schedule.decision import SCHEDULE_TAG, SNOOZE_TAG, Decision, decide, parse_snooze_until
from snoozebot.schedule.grammar import OPT_OUT, Period, Schedule, load_schedules
from snoozebot.schedule.runner import Row, RunRecord, RunReport, run_all, window_start

__all__ = [
    "OPT_OUT",
    "SCHEDULE_TAG",
    "SNOOZE_TAG",
    "Boundary",
    "Decision",
    "Period",
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
    "run_all",
    "window_start",
]

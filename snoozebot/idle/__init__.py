"""Idle detection on the instance itself (``snoozebot idle check``; docs/cron.md).

- :mod:`.readings`: readings, thresholds and the idle verdict (pure);
- :mod:`.sampler`: measuring this machine (psutil, ``nvidia-smi``, utmp sessions);
- :mod:`.settings`: thresholds and nap time from options and ``[idle]``;
- :mod:`.tracker`: since when the machine is idle, discarded after a reboot;
- :mod:`.identity`: which instance this is, from the providers' ``identify_self``;
- :mod:`.check`: one check from sample to stop.
"""

from snoozebot.idle.check import STOPPABLE, CheckResult, StopAction, StopOutcome, run_check
from snoozebot.idle.identity import identify
from snoozebot.idle.readings import DEFAULT_THRESHOLDS, Reading, Readings, Thresholds, evaluate
from snoozebot.idle.sampler import Sampler, SystemSampler
from snoozebot.idle.settings import DEFAULT_NAPTIME, IdleSettings, parse_naptime, resolve_settings
from snoozebot.idle.tracker import IdleTracker

__all__ = [
    "DEFAULT_NAPTIME",
    "DEFAULT_THRESHOLDS",
    "STOPPABLE",
    "CheckResult",
    "IdleSettings",
    "IdleTracker",
    "Reading",
    "Readings",
    "Sampler",
    "StopAction",
    "StopOutcome",
    "SystemSampler",
    "Thresholds",
    "evaluate",
    "identify",
    "parse_naptime",
    "resolve_settings",
    "run_check",
]

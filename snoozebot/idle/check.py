"""One idle check: sample, judge, remember since when idle, and stop the machine when due.

:func:`run_check` is the whole policy with its edges passed in: the sampler,
the clock, the boot time and the stop action, so tests drive it in-process
with injected readings and time while the CLI passes the real ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from snoozebot import sdk
from snoozebot.idle.readings import evaluate
from snoozebot.idle.sampler import MIN_SAMPLE_SECONDS, Sampler
from snoozebot.idle.settings import IdleSettings
from snoozebot.idle.tracker import IdleTracker

__all__ = ["STOPPABLE", "CheckResult", "IdleAction", "StopAction", "StopOutcome", "StopWarning", "run_check"]

IdleAction = Literal["none", "stop", "would-stop"]
STOPPABLE = frozenset({sdk.InstanceState.RUNNING, sdk.InstanceState.PENDING})
"""The only states an idle check ever stops (never ``unknown``)."""


@dataclass(frozen=True)
class StopOutcome:
    """What the stop action did: the action taken, the instance, and an error when the stop failed."""

    action: IdleAction
    instance: sdk.Instance | None
    error: str | None = None


class StopAction(Protocol):
    """Stops this very machine (or, in a dry run, says it would)."""

    def __call__(self, *, dry_run: bool) -> StopOutcome: ...


class StopWarning(Protocol):
    """Warnings before an idle stop, and the postpone overrides they lead to (docs/notifications.md)."""

    def due(self, scheduled: dt.datetime) -> dt.datetime | None:
        """When the stop planned for ``scheduled`` happens, its overrides applied; None when skipped."""
        ...

    def warn(self, due: dt.datetime) -> None:
        """Send the warning for the stop at ``due`` (once per stop: the implementation remembers)."""
        ...


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, in the JSON shape of docs/cron.md."""

    idle: bool
    idle_since: dt.datetime | None
    readings: dict[str, Any]
    action: IdleAction
    instance: sdk.Instance | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "idle": self.idle,
            "idle_since": self.idle_since.isoformat() if self.idle_since else None,
            "readings": self.readings,
            "action": self.action,
            "instance": self.instance.to_dict() if self.instance else None,
        }


def run_check(
    sampler: Sampler,
    settings: IdleSettings,
    tracker: IdleTracker,
    stop: StopAction,
    *,
    clock: Callable[[], dt.datetime],
    boot_time: dt.datetime,
    dry_run: bool,
    sample_seconds: float = MIN_SAMPLE_SECONDS,
    warn_before: dt.timedelta | None = None,
    warning: StopWarning | None = None,
) -> CheckResult:
    """Take one sample and act on it; a dry run changes nothing, idle-since included.

    With ``warning``: once idle for the nap time minus ``warn_before``, the
    stop's overrides are looked up (postponed: the stop moves; skipped: the
    idleness starts over from now) and, with ``warn_before``, a warning is
    sent before the stop.
    """
    readings = sampler.sample(sample_seconds)
    verdict = evaluate(readings, settings.thresholds, ignore_sessions=settings.ignore_sessions)
    now = clock()
    remembered = tracker.since(boot_time=boot_time)
    if not verdict.idle:
        if not dry_run:
            tracker.forget()
        return CheckResult(False, None, verdict.readings, "none", None)
    since = remembered or now
    if remembered is None and not dry_run:
        tracker.remember(since)
    due = (since + settings.naptime).replace(microsecond=0)  # postpone tokens name whole seconds
    lead = warn_before or dt.timedelta(0)
    if warning is not None and now >= due - lead:
        moved = warning.due(due)
        if moved is None:  # "skip": this idle period does not end in a stop
            if not dry_run:
                tracker.remember(now)
            return CheckResult(True, now, verdict.readings, "none", None)
        due = moved
        if lead and due - lead <= now < due and not dry_run:
            warning.warn(due)
    if now < due:
        return CheckResult(True, since, verdict.readings, "none", None)
    outcome = stop(dry_run=dry_run)
    if outcome.action == "stop" and outcome.error is None and not dry_run:
        tracker.forget()  # a resumed (hibernated) machine starts its idleness afresh
    return CheckResult(True, since, verdict.readings, outcome.action, outcome.instance, outcome.error)

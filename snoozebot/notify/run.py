"""What a ``schedule run`` sends once it is done: at most one digest per event, delivered once.

:func:`notify_run` is the one call the CLI makes per run (never in a dry run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snoozebot.notify.deliver import Report, deliver
from snoozebot.notify.messages import Notice, Subject, action_digest, failure_digest, subject_of
from snoozebot.notify.settings import NotifySettings

__all__ = ["failures_of", "notify_run", "outcome_notices"]


def failures_of(rows: Sequence[Any], failures: Sequence[Any]) -> list[tuple[Subject, str]]:
    """Every failed instance (with its action) and every failed provider or scope, with the error."""
    found = [
        (subject_of(r), f"{r.action} failed: {r.error['message'] if r.error else 'unknown error'}")
        for r in rows
        if not r.ok
    ]
    found += [(Subject(f.provider, None, getattr(f, "target", None), getattr(f, "scope", None) or {}),
               str(f.error)) for f in failures]
    return found


def outcome_notices(settings: NotifySettings, rows: Sequence[Any], failures: Sequence[Any]) -> list[Notice]:
    """The ``action`` and ``failure`` digests of a run's rows and provider failures, as configured."""
    notices: list[Notice] = []
    if settings.wants("action"):
        done = [r for r in rows if r.ok]
        stopped = [subject_of(r) for r in done if r.action == "stop"]
        digest = action_digest(stopped, [subject_of(r) for r in done if r.action == "start"])
        notices += [digest] if digest else []
    if settings.wants("failure"):
        digest = failure_digest(failures_of(rows, failures))
        notices += [digest] if digest else []
    return notices


def notify_run(settings: NotifySettings, notices: Sequence[Notice], *, report: Report) -> None:
    """Deliver a run's notices to every configured URL, bounded in time (docs/notifications.md)."""
    deliver(settings.urls, notices, report=report)

"""Delivery through Apprise, bounded in time: a run waits for its receivers at most so long.

Each configured URL gets its own thread and its own ``apprise.Apprise``, so a
receiver that hangs (a mail server that accepts the connection and never
answers makes Apprise wait about 15 s) delays nothing but itself, and the
caller stops waiting at the deadline. The threads are daemons: one still
blocked at the deadline ends with the process. Apprise is imported here, in
those threads, and only when there is something to send.

A failure is one line through ``report`` naming the URL by its position and
scheme only (``urls[1] (mailto://)``): URLs hold passwords and tokens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from snoozebot.notify.messages import Notice
from snoozebot.text import one_line

__all__ = ["DELIVERY_SECONDS", "Report", "deliver"]

DELIVERY_SECONDS = 9.5
"""The longest a run waits for its deliveries, all together (the contract's bound is 10 s)."""

Report = Callable[[str], None]
"""Takes one line for stderr."""


class _Problems(logging.Handler):
    """Apprise's warnings and errors, by the thread that logged them (its only account of a failure)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_thread: dict[int, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.by_thread.setdefault(record.thread or 0, record.getMessage())


_NOT_UNDERSTOOD = "not a URL Apprise understands"  # Apprise's own line would quote the URL


def _label(index: int, url: str) -> str:
    return f"urls[{index}] ({url.split('://', 1)[0]}://)"


def _send(url: str, notices: Sequence[Notice]) -> str | None:
    """Send every notice to one URL; the reason it failed, or None."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return _NOT_UNDERSTOOD
    for notice in notices:
        if not sender.notify(title=notice.title, body=notice.body, body_format=apprise.NotifyFormat.TEXT):
            return "the receiver refused it or could not be reached"
    return None


def deliver(
    urls: Sequence[str], notices: Sequence[Notice], *, report: Report, deadline: float = DELIVERY_SECONDS
) -> int:
    """Send ``notices`` to every URL for at most ``deadline`` seconds; returns how many URLs failed."""
    if not urls or not notices:
        return 0
    logger = logging.getLogger("apprise")
    problems = _Problems()
    logger.addHandler(problems)
    logger.propagate = False  # Apprise's own log lines are not ours to print
    outcomes: dict[int, str | None] = {}
    threads: dict[int, threading.Thread] = {}

    def run(index: int, url: str) -> None:
        try:
            outcomes[index] = _send(url, notices)
        except Exception as exc:
            outcomes[index] = f"{type(exc).__name__}: {exc}"

    for index, url in enumerate(urls):
        threads[index] = threading.Thread(target=run, args=(index, url), daemon=True, name=f"notify-{index}")
        threads[index].start()
    end = time.monotonic() + deadline
    for thread in threads.values():
        thread.join(max(0.0, end - time.monotonic()))
    failed = 0
    for index, url in enumerate(urls):
        thread = threads[index]
        if thread.is_alive():
            reason = f"no answer within {deadline:g}s (not waited for)"
        elif outcomes.get(index) is None:
            continue
        else:
            detail = problems.by_thread.get(thread.ident or 0) if outcomes[index] != _NOT_UNDERSTOOD else None
            reason = f"{outcomes[index]}{f': {detail}' if detail else ''}"
        failed += 1
        report(f"warning: notification to {_label(index, url)} failed: {one_line(reason)}")
    logger.removeHandler(problems)
    return failed

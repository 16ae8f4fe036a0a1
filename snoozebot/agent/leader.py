"""``agent serve --schedule-every``: the agent runs ``schedule run`` itself, led by one agent.

Every interval (the first tick at start-up) each agent tries to become the
leader without waiting: on PostgreSQL a session-level advisory lock on a
dedicated connection, on SQLite a ``flock`` in the state directory. The one
that holds it writes ``host``, ``pid`` and ``since`` to the ``leader`` table
and runs the schedules (:func:`snoozebot.schedule.runner.run_all`, with the
agent's own workers, audit log and locks). When the leader dies its lock goes
with its connection, and another agent takes the lead at its next tick:
within one interval. See docs/shared-state.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from prometheus_client import Gauge

from snoozebot.agent.metrics import AgentMetrics
from snoozebot.agent.service import AgentService
from snoozebot.config import Config
from snoozebot.errors import SnoozebotError, UsageError
from snoozebot.idle.settings import parse_naptime
from snoozebot.schedule import RunRecord, load_schedules, run_all
from snoozebot.store import Leadership, Session, Store

__all__ = ["Scheduler", "leader_of", "parse_every"]

log = logging.getLogger("snoozebot.agent")

ACTOR = "agent:schedule"
"""The audit log's actor for the actions of the agent's schedule runs."""


def parse_every(text: str) -> float:
    """``--schedule-every``: a nap time (``90s``, ``5m``, ``1h``) of at least one second, in seconds."""
    try:
        seconds = parse_naptime(text).total_seconds()
    except UsageError:
        raise UsageError(f"--schedule-every: expected a duration such as 90s or 5m, got {text!r}") from None
    if seconds < 1:
        raise UsageError(f"--schedule-every must be at least 1s, got {text!r}")
    return seconds


def leader_of(store: Store) -> dict[str, Any] | None:
    """The agent that took the lead last (``host``, ``pid``, ``since``), or None."""

    def query(db: Session) -> list[tuple[Any, ...]]:
        return db.execute("SELECT host, pid, since FROM leader WHERE id = 1")

    nobody: list[tuple[Any, ...]] = []
    rows = store.read(query, empty=nobody)
    return {"host": rows[0][0], "pid": int(rows[0][1]), "since": rows[0][2]} if rows else None


class Scheduler:
    """The tick loop of one agent, in a thread of its own."""

    def __init__(
        self,
        *,
        service: AgentService,
        store: Store,
        config: Config,
        state_directory: Path,
        every: float,
        metrics: AgentMetrics,
    ) -> None:
        self.service = service
        self.store = store
        self.config = config
        self.state_directory = state_directory
        self.every = every
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._claim: Leadership | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="snoozebot-scheduler", daemon=True)
        self._gauge = Gauge(
            "snoozebot_leader", "1 while this agent leads the schedule runs, else 0.",
            registry=metrics.registry,
        )

    @property
    def leading(self) -> bool:
        """True while this agent holds the lead."""
        return self._claim is not None

    def start(self) -> None:
        """Tick now, then every interval, until :meth:`close`."""
        self._thread.start()

    def close(self) -> None:
        """Stop ticking and give the lead up (its row too, so nobody is named leader for nothing)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._claim is not None:
            try:
                with self.store.session(consequence="the leader row stays") as db:
                    mine = (self.host, self.pid)
                    db.execute("DELETE FROM leader WHERE id = 1 AND host = ? AND pid = ?", mine)
            except SnoozebotError as exc:
                log.warning("scheduler: %s", exc)
            self._claim.release()
            self._claim = None
            self._gauge.set(0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except SnoozebotError as exc:
                log.warning("scheduler: %s", exc)
            except Exception:  # a tick must never end the loop; the next one tries again
                log.exception("scheduler: the schedule run failed")
            self._stop.wait(self.every)

    def _lead(self) -> bool:
        if self._claim is not None and not self._claim.alive():
            log.warning("scheduler: lost the lead (the database connection went away)")
            self._claim = None
        if self._claim is None:
            claim = self.store.lead()
            if claim is not None:
                since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                try:
                    with self.store.session(consequence="the lead was not taken") as db:
                        db.execute(
                            "INSERT INTO leader (id, host, pid, since) VALUES (1, ?, ?, ?) ON CONFLICT (id)"
                            " DO UPDATE SET host = excluded.host, pid = excluded.pid, since = excluded.since",
                            (self.host, self.pid, since),
                        )
                except BaseException:
                    claim.release()
                    raise
                self._claim = claim
                log.info("scheduler: this agent (%s, pid %d) leads the schedule runs", self.host, self.pid)
        self._gauge.set(1 if self._claim is not None else 0)
        return self._claim is not None

    def tick(self) -> None:
        """Take the lead if it is free; as the leader, run every loaded provider's schedules once."""
        if not self._lead():
            return
        names = self.service.loaded_names()
        if not names:
            return
        schedules = load_schedules(self.config.table("schedules"), source=str(self.config.path or "config"))
        record = RunRecord(self.state_directory, self.store)
        clients = [self.service.client(name) for name in names]
        context = self.service.context
        with record.locked(timeout=context.lock_timeout):
            report = run_all(
                clients, context, schedules, record, now=dt.datetime.now(dt.UTC), dry_run=False, actor=ACTOR
            )
        acted = [r for r in report.rows if r.action in ("stop", "start")]
        if acted:
            log.info("scheduler: %d action(s), %d failed", len(acted), sum(not r.ok for r in acted))
        for failure in report.failures:
            log.warning("scheduler: %s: %s", failure.provider, failure.error)

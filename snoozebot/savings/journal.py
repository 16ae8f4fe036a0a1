"""The savings journal: when each instance was snoozed by snoozebot (see ``docs/savings.md``).

It records state changes only, never sightings:

- :meth:`Journal.record` opens an interval at a successful stop (any source:
  CLI, schedule, idle check, agent, UI) and closes it at a successful start;
- :meth:`Journal.seen` closes the open intervals of instances a listing shows
  awake again (``running``, ``pending``) or gone (``terminated``): a start by
  hand ends the snooze there. It also fills in the type, region and tags of an
  open interval whose stop answer did not carry them (EC2's does not), once.

The journal lives in the state store (:mod:`snoozebot.store`): with a shared
PostgreSQL database every machine's stops and starts add to one journal. A
listing where nothing changed costs one query per provider: its open
intervals (none at all before the store's file exists).

Both are best effort: a journal that cannot be written (a locked or broken
database, a full disk) is one warning on stderr, never a failed stop, start
or listing (the audit log still has the action).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import ParamSpec

from snoozebot import sdk
from snoozebot.errors import SnoozebotError
from snoozebot.results import Action, ActionResult
from snoozebot.savings.store import Details, JournalStore, StateJournalStore
from snoozebot.store import Store

__all__ = ["AWAKE_STATES", "Clock", "Journal", "details_of"]

log = logging.getLogger("snoozebot.savings")
P = ParamSpec("P")

AWAKE_STATES = frozenset({sdk.InstanceState.RUNNING, sdk.InstanceState.PENDING})
"""States in which a listing ends a snooze: the instance bills again."""

_ENDS_SNOOZE = AWAKE_STATES | {sdk.InstanceState.TERMINATED}

Clock = Callable[[], float]
"""Unix seconds now."""


def _best_effort(method: Callable[P, None]) -> Callable[P, None]:
    """A failure is one warning: a stop or start that reached the cloud is never failed by its journal."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except SnoozebotError as exc:  # the store's failures are all one line
            log.warning("the savings journal was not updated: %s", exc)

    return guarded


def _quietly(method: Callable[P, None]) -> Callable[P, None]:
    """A listing's bookkeeping: a failure says nothing (the next listing closes the intervals)."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except SnoozebotError as exc:
            log.debug("the savings journal was not updated by a listing: %s", exc)

    return guarded


def _listed(instance: sdk.Instance) -> Details:
    """What a listing tells: everything (what it lacks is known to be missing: ``""``)."""
    return Details(instance.instance_type or "", instance.region or "", dict(instance.tags))


def details_of(instance: sdk.Instance) -> Details | None:
    """What a stop answer tells of the type, region and tags; None when it does not say.

    A stop answer without a type (EC2's) says nothing of the tags either.
    """
    return _listed(instance) if instance.instance_type else None


class Journal:
    """Opens and closes snoozed intervals in a :class:`~snoozebot.savings.store.JournalStore`."""

    def __init__(self, store: JournalStore, *, clock: Clock = time.time) -> None:
        self.store = store
        self._clock = clock

    @classmethod
    def in_store(cls, store: Store) -> Journal:
        """The journal kept in the state store ``store``."""
        return cls(StateJournalStore(store))

    @_best_effort
    def record(
        self,
        provider: str,
        action: Action,
        results: Sequence[ActionResult],
        *,
        source: str,
        target: str | None = None,
    ) -> None:
        """A real (not dry-run) stop or start: open or close the intervals of the instances it reached.

        ``target`` is the fleet target the stop went through (None for ``-p``).
        """
        done = [r for r in results if r.ok]
        if not done:
            return
        now = self._clock()
        ids = [r.id for r in done]
        if action == "start":
            self.store.close(provider, ids, at=now, by="start")
            return
        answered = {r.id: details_of(r.instance) if r.instance else None for r in done}
        known = self.store.last_details(provider, [iid for iid, d in answered.items() if d is None])
        opened = [(iid, d or known.get(iid)) for iid, d in answered.items()]
        self.store.open(provider, opened, source=source, at=now, target=target)

    @_quietly
    def seen(self, instances: Iterable[sdk.Instance]) -> None:
        """A listing: close the intervals of instances awake again, fill in missing details."""
        by_provider: dict[str, list[sdk.Instance]] = {}
        for inst in instances:
            by_provider.setdefault(inst.provider, []).append(inst)
        for provider, listed in by_provider.items():
            open_now = {o.instance: o for o in self.store.open_intervals(provider)}
            if not open_now:
                continue
            now = self._clock()
            woke = [i.id for i in listed if i.id in open_now and i.state in _ENDS_SNOOZE]
            fills = [
                (open_now[i.id].id, _listed(i))
                for i in listed
                if i.id in open_now and not open_now[i.id].known
            ]
            self.store.fill(fills)
            self.store.close(provider, woke, at=now, by="listing")


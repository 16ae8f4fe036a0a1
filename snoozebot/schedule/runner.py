"""``schedule run``: list each provider once, decide every tagged instance, act in batches.

Per provider: one unfiltered listing (the plugin contract's filters are
equalities, and an instance naming an unknown schedule or ``never`` must be
seen too), the decision step (:mod:`.plan`), then one batched stop and one
batched start per ``snoozebot-order`` tier (:mod:`.acting`) through
:func:`snoozebot.operations.run_action` (audited, source ``schedule``). The
scopes of one fleet target share their tiers: a tier starts (or stops) in
every scope, concurrently, only once the tier before it is done in all of them.

The previous successful run is kept per provider in ``schedule-runs.json`` in
the state directory. It moves forward only when the provider was listed and
its batched calls reached the provider (per-instance failures still count as a
run: repeating the window would stop again what a person started by hand);
never in a dry run, and never backwards. A record that cannot be read is
never taken for "no previous run": the run stops with StateDamaged first.
With a shared store (PostgreSQL) the records and the run lock are the
store's, for every machine on it (docs/shared-state.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snoozebot import sdk
from snoozebot.errors import PluginUnavailable
from snoozebot.fleet import Scope
from snoozebot.host.client import ProviderClient
from snoozebot.host.manager import DEFAULT_TIMEOUT
from snoozebot.operations import ActionContext
from snoozebot.results import Action
from snoozebot.schedule.acting import Share, act_in_tiers
from snoozebot.schedule.activity import ActivityStore
from snoozebot.schedule.decision import SCHEDULE_TAG
from snoozebot.schedule.deferrals import DeferralRecord
from snoozebot.schedule.grammar import Schedule
from snoozebot.schedule.plan import Plan, plan_run
from snoozebot.schedule.rows import Row
from snoozebot.state import atomic_write_json, damaged, exclusive_lock, read_json
from snoozebot.store import Store, open_store
from snoozebot.store.runs import SharedRunRecords

if TYPE_CHECKING:
    from snoozebot.overrides import OverrideMap

__all__ = [
    "DEFAULT_WINDOW",
    "Place",
    "ProviderFailure",
    "Row",
    "RunRecord",
    "RunReport",
    "run_all",
    "window_start",
]

DEFAULT_WINDOW = dt.timedelta(hours=1)
"""The window of a provider's first run, when no previous run is recorded."""


@dataclass(frozen=True)
class ProviderFailure:
    """A provider that could not be listed or whose batched call failed as a whole."""

    provider: str
    error: Exception
    where: Scope | None = None
    """The fleet scope that failed (None for a provider named with ``-p``)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` entry of a failed scope: ``{"target", "scope", "id": null, "ok": false, ...}``."""
        where = self.where
        return {
            "target": where.target if where else None,
            "scope": dict(where.labels) if where else {},
            "provider": self.provider,
            "id": None,
            "ok": False,
            "error": {"code": getattr(self.error, "code", "error"), "message": str(self.error)},
        }


@dataclass
class RunReport:
    """Everything one run did, across providers."""

    rows: list[Row] = field(default_factory=list)
    failures: list[ProviderFailure] = field(default_factory=list)
    listed: list[sdk.Instance] = field(default_factory=list)
    """The tagged instances as listed (what warnings before a stop look at, docs/notifications.md)."""

    @property
    def ok(self) -> bool:
        return not self.failures and all(r.ok for r in self.rows)


class RunRecord:
    """The previous successful run of each provider, in the state directory or a shared store."""

    def __init__(self, directory: Path, store: Store | None = None) -> None:
        self._path = directory / "schedule-runs.json"
        self.lock_path = directory / "schedule.lock"
        chosen = store if store is not None else open_store(directory)
        self._shared = SharedRunRecords(chosen) if chosen.shared else None

    def _load(self) -> dict[str, dt.datetime]:
        """Every provider's previous run; StateDamaged when the file is not what we wrote.

        A damaged record is never taken for "no previous run": that would move
        the window and repeat (or skip) boundaries.
        """
        if self._shared:
            return self._shared.load()
        data = read_json(self._path, {"providers": {}})
        providers = data.get("providers") if isinstance(data, dict) else None
        if not isinstance(providers, dict):
            raise damaged(self._path, 'expected {"providers": {NAME: TIME}}')
        loaded = {}
        for name, value in providers.items():
            try:
                moment = dt.datetime.fromisoformat(value)
            except (TypeError, ValueError):
                moment = None
            if moment is None or moment.tzinfo is None:
                reason = f"the time recorded for {name!r} is not an ISO 8601 time with offset"
                raise damaged(self._path, reason)
            loaded[name] = moment
        return loaded

    def previous(self, provider: str) -> dt.datetime | None:
        """The provider's previous successful run, or None before its first."""
        return self._load().get(provider)

    def record(self, provider: str, now: dt.datetime) -> None:
        """Move the provider's record forward to ``now`` (never backwards); hold the run lock."""
        if self._shared:
            self._shared.advance(provider, now)
            return
        providers = self._load()
        previous = providers.get(provider)
        if previous is None or now > previous:
            providers[provider] = now
            stored = {name: moment.astimezone(dt.UTC).isoformat() for name, moment in providers.items()}
            atomic_write_json(self._path, {"providers": stored})

    def providers(self) -> list[str]:
        """The providers that have a record."""
        if self._shared:
            return sorted(self._shared.load())
        data = read_json(self._path, {})
        return sorted(data.get("providers", {})) if isinstance(data, dict) else []

    def ahead_of(self, clock: dt.datetime) -> dict[str, dt.datetime]:
        """The providers whose record lies after ``clock`` (a real run with a future ``--now``)."""
        ahead = {name: self.previous(name) for name in self.providers()}
        return {name: when for name, when in ahead.items() if when is not None and when > clock}

    def forget(self, providers: Sequence[str]) -> list[str]:
        """Remove the records of ``providers``; the names that had one. Hold the run lock."""
        if self._shared:
            return self._shared.forget(providers)
        data = read_json(self._path, {})
        records = dict(data.get("providers", {})) if isinstance(data, dict) else {}
        gone = [name for name in providers if records.pop(name, None) is not None]
        if gone:
            atomic_write_json(self._path, {"providers": records})
        return gone

    def locked(self, *, timeout: float) -> AbstractContextManager[None]:
        """The lock that keeps two overlapping runs from acting on the same instances."""
        local = exclusive_lock(self.lock_path, timeout=timeout, what="schedule runs")
        return _both(local, self._shared.locked(timeout=timeout)) if self._shared else local


@contextlib.contextmanager
def _both(first: AbstractContextManager[None], second: AbstractContextManager[None]) -> Iterator[None]:
    with first, second:
        yield


def window_start(previous: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """The exclusive start of the window ``(start, now]``; empty when ``previous >= now``."""
    return previous if previous is not None else now - DEFAULT_WINDOW


@dataclass(frozen=True)
class Place:
    """What one run covers: a provider's client, in a fleet scope or not, and its record's key."""

    client: ProviderClient
    where: Scope | None = None

    @property
    def key(self) -> str:
        """The provider's name, or ``PROVIDER TARGET {labels}`` for a scope of a fleet target."""
        if self.where is None or self.where.target is None:
            return self.client.name
        return f"{self.client.name} {self.where.target} {self.where.labels_json()}"

    @property
    def target(self) -> str | None:
        """The fleet target this place is a scope of (None for a provider named with ``-p``)."""
        return self.where.target if self.where is not None else None


@dataclass(frozen=True)
class _Done:
    """One place's part of a run: its rows, the error of a batch that failed as a whole, its plan."""

    rows: list[Row]
    failure: Exception | None
    plan: Plan
    listed: list[sdk.Instance]


def _groups(places: Sequence[Place]) -> list[list[int]]:
    """The places whose order tiers go together (docs/schedules.md#order): the scopes of one
    fleet target; any other place alone. Indexes into ``places``, in their order."""
    groups: dict[tuple[str, object], list[int]] = {}
    for index, place in enumerate(places):
        key = ("target", place.target) if place.target is not None else ("place", index)
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def _rows(place: Place, plan: Plan, acted: Sequence[Row], *, acting: tuple[Action, ...]) -> list[Row]:
    """A place's rows in listing order: the acted ones, and every other decision as decided."""
    rows = [
        Row(inst.id, place.client.name, d.schedule, d.action, d.ok, d.error(), d.reason)
        for inst, d in plan.decided
        if d.action not in acting
    ]
    rows += acted
    where = place.where
    if where is not None and where.target is not None:
        rows = [replace(r, target=where.target, scope=dict(where.labels)) for r in rows]
    order = {inst.id: n for n, (inst, _) in enumerate(plan.decided)}
    return sorted(rows, key=lambda r: order[r.id])


@dataclass
class _Run:
    """One run's settings, shared by its places; :meth:`group` runs the places that act together."""

    context: ActionContext
    schedules: Mapping[str, Schedule]
    record: RunRecord
    now: dt.datetime
    dry_run: bool
    actor: str
    wait_timeout: float
    activity: ActivityStore | None
    deferrals: DeferralRecord | None
    overrides: OverrideMap | None
    places: Sequence[Place]
    pool: ThreadPoolExecutor

    def decide(self, place: Place) -> tuple[list[sdk.Instance], Plan] | Exception:
        """List the place once and decide its tagged instances; the error when it cannot be listed."""
        client, key = place.client, place.key
        try:
            everything = client.list_instances({})
        except (PluginUnavailable, sdk.ProviderError) as exc:
            return exc
        self.context.seen(everything)  # ends the snoozes of instances awake again (docs/savings.md)
        instances = [i for i in everything if i.tags.get(SCHEDULE_TAG, "").strip()]
        moved = {iid: o for (name, iid), o in (self.overrides or {}).items() if name == client.name}
        plan = plan_run(
            instances,
            self.schedules,
            after=window_start(self.record.previous(key), self.now),
            now=self.now,
            activity=self.activity.for_provider(client.name) if self.activity else None,
            deferred=self.deferrals.for_provider(key) if self.deferrals else None,
            overrides=moved,
        )
        return instances, plan

    def group(self, indexes: Sequence[int]) -> list[_Done | Exception]:
        """Decide these places concurrently, then act on them together, order tier by order tier."""
        places = [self.places[k] for k in indexes]
        decided = list(self.pool.map(self.decide, places))
        ready = [(place, d) for place, d in zip(places, decided, strict=True) if not isinstance(d, Exception)]
        acting: tuple[Action, ...] = () if self.dry_run else ("stop", "start")
        acted: list[list[Row]] = [[] for _ in ready]
        failures: list[Exception | None] = [None for _ in ready]
        for action in acting:
            shares = [Share(place.client, plan.tiers(action), place.where) for place, (_, plan) in ready]
            outcomes = act_in_tiers(
                shares, self.context, action, actor=self.actor, wait_timeout=self.wait_timeout,
                executor=self.pool,
            )
            for k, (rows, error) in enumerate(outcomes):
                acted[k] += rows
                failures[k] = failures[k] or error
        done = iter(
            _Done(_rows(place, plan, rows, acting=acting), failure, plan, listed)
            for (place, (listed, plan)), rows, failure in zip(ready, acted, failures, strict=True)
        )
        return [d if isinstance(d, Exception) else next(done) for d in decided]


def run_all(
    places: Sequence[ProviderClient | Place],
    context: ActionContext,
    schedules: Mapping[str, Schedule],
    record: RunRecord,
    *,
    now: dt.datetime,
    dry_run: bool,
    actor: str,
    wait_timeout: float = DEFAULT_TIMEOUT,
    activity: ActivityStore | None = None,
    deferrals: DeferralRecord | None = None,
    concurrency: int = 16,
    overrides: OverrideMap | None = None,
) -> RunReport:
    """Run every provider (or fleet scope) concurrently; one's failure never stops the others.

    The scopes of one fleet target act together, order tier by order tier
    across all of them (:func:`.acting.act_in_tiers`); every other place on
    its own. At most ``concurrency`` places are listed or acted on at once.
    ``activity`` holds the instances' last reports (for ``unless_busy``);
    ``deferrals`` the stops still owed to busy instances, replaced after each
    provider's real run; ``overrides`` the snoozes and moved stops.
    """
    report = RunReport()
    chosen = [each if isinstance(each, Place) else Place(each) for each in places]
    groups = _groups(chosen)
    outcomes: dict[int, _Done | Exception] = {}
    # the places are worked concurrently on one pool, each group driving its tiers from a
    # thread of its own; their records are written here, one after the other
    with (
        ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(chosen)))) as pool,
        ThreadPoolExecutor(max_workers=max(1, len(groups))) as drivers,
    ):
        run = _Run(
            context=context, schedules=schedules, record=record, now=now, dry_run=dry_run, actor=actor,
            wait_timeout=wait_timeout, activity=activity, deferrals=deferrals, overrides=overrides,
            places=chosen, pool=pool,
        )
        for group, done in zip(groups, drivers.map(run.group, groups), strict=True):
            outcomes.update(zip(group, done, strict=True))
    for index, place in enumerate(chosen):
        client, key, outcome = place.client, place.key, outcomes[index]
        if isinstance(outcome, Exception):
            report.failures.append(ProviderFailure(client.name, outcome, place.where))
            continue
        report.rows += outcome.rows
        report.listed += outcome.listed
        if deferrals is not None and not dry_run:
            deferrals.replace(key, outcome.plan.deferred())
        if outcome.failure is not None:
            report.failures.append(ProviderFailure(client.name, outcome.failure, place.where))
        elif not dry_run:
            record.record(key, now)
    return report

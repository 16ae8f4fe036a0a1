"""``schedule run``: list each provider once, decide every tagged instance, act in batches.

Per provider: one unfiltered listing (the plugin contract's filters are
equalities, and an instance naming an unknown schedule or ``never`` must be
seen too), then at most one batched stop and one batched start through
:func:`snoozebot.operations.run_action` (audited, source ``schedule``).

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
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snoozebot import sdk
from snoozebot.errors import PluginUnavailable
from snoozebot.host.client import ProviderClient
from snoozebot.operations import ActionContext, run_action
from snoozebot.results import Action, ActionResult
from snoozebot.schedule.decision import SCHEDULE_TAG, Decision, DecisionAction, decide
from snoozebot.schedule.grammar import Schedule
from snoozebot.state import atomic_write_json, damaged, exclusive_lock, read_json
from snoozebot.store import Store, open_store
from snoozebot.store.runs import SharedRunRecords

__all__ = [
    "DEFAULT_WINDOW",
    "ProviderFailure",
    "Row",
    "RunRecord",
    "RunReport",
    "run_all",
    "run_provider",
    "window_start",
]

DEFAULT_WINDOW = dt.timedelta(hours=1)
"""The window of a provider's first run, when no previous run is recorded."""


@dataclass(frozen=True)
class Row:
    """One instance in the JSON shape of DESIGN.md 4a."""

    id: str
    provider: str
    schedule: str | None
    action: DecisionAction
    ok: bool
    error: dict[str, Any] | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "schedule": self.schedule,
            "action": self.action,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass(frozen=True)
class ProviderFailure:
    """A provider that could not be listed or whose batched call failed as a whole."""

    provider: str
    error: Exception


@dataclass
class RunReport:
    """Everything one run did, across providers."""

    rows: list[Row] = field(default_factory=list)
    failures: list[ProviderFailure] = field(default_factory=list)

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


def _act(
    client: ProviderClient,
    context: ActionContext,
    action: Action,
    decided: Sequence[tuple[sdk.Instance, Decision]],
    *,
    actor: str,
) -> tuple[list[Row], Exception | None]:
    """One batched, audited call; a call that fails as a whole fails each row and is returned."""
    ids = [inst.id for inst, _ in decided]
    try:
        results = run_action(
            client, context, action=action, instance_ids=ids, actor=actor, source="schedule"
        )
    except (PluginUnavailable, sdk.ProviderError) as exc:
        failed = {"code": exc.code, "message": str(exc)}
        return [Row(i.id, client.name, d.schedule, action, False, failed, d.reason) for i, d in decided], exc
    by_id: dict[str, ActionResult] = {r.id: r for r in results}
    rows = []
    for inst, decision in decided:
        result = by_id.get(inst.id)
        error: dict[str, Any] | None = None
        if result is None:
            error = {"code": "no_result", "message": f"the provider returned no result for {inst.id}"}
        elif result.failure is not None:
            error = result.failure.to_dict()
        rows.append(
            Row(inst.id, client.name, decision.schedule, action, error is None, error, decision.reason)
        )
    return rows, None


def run_provider(
    client: ProviderClient,
    context: ActionContext,
    schedules: Mapping[str, Schedule],
    *,
    after: dt.datetime,
    now: dt.datetime,
    dry_run: bool,
    actor: str,
) -> tuple[list[Row], Exception | None]:
    """Decide and act for every tagged instance of one provider.

    Returns the rows and the error of a batched call that failed as a whole
    (its rows are failed too). Raises PluginUnavailable or ProviderError when
    the provider cannot be listed.
    """
    instances = [i for i in client.list_instances({}) if i.tags.get(SCHEDULE_TAG, "").strip()]
    decided = [(inst, decide(inst, schedules, after=after, now=now)) for inst in instances]
    rows: list[Row] = []
    pending: dict[Action, list[tuple[sdk.Instance, Decision]]] = {"stop": [], "start": []}
    for inst, decision in decided:
        if decision.action in ("stop", "start") and not dry_run:
            pending["stop" if decision.action == "stop" else "start"].append((inst, decision))
        else:
            d = decision
            rows.append(Row(inst.id, client.name, d.schedule, d.action, d.ok, d.error(), d.reason))
    failure: Exception | None = None
    for action, group in pending.items():
        if group:
            acted, error = _act(client, context, action, group, actor=actor)
            rows += acted
            failure = failure or error
    order = {inst.id: n for n, (inst, _) in enumerate(decided)}
    return sorted(rows, key=lambda r: order[r.id]), failure


def run_all(
    clients: Sequence[ProviderClient],
    context: ActionContext,
    schedules: Mapping[str, Schedule],
    record: RunRecord,
    *,
    now: dt.datetime,
    dry_run: bool,
    actor: str,
) -> RunReport:
    """Run every provider in turn; one provider's failure never stops the others."""
    report = RunReport()
    for client in clients:
        after = window_start(record.previous(client.name), now)
        try:
            rows, failure = run_provider(
                client, context, schedules, after=after, now=now, dry_run=dry_run, actor=actor
            )
        except (PluginUnavailable, sdk.ProviderError) as exc:
            report.failures.append(ProviderFailure(client.name, exc))
            continue
        report.rows += rows
        if failure is not None:
            report.failures.append(ProviderFailure(client.name, failure))
        elif not dry_run:
            record.record(client.name, now)
    return report

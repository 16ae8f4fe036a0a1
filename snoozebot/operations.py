"""Stopping and starting instances through a provider: locked, audited, batched.

Shared by every acting path (the CLI, the scheduler, idle checks, the agent's
REST and UI actions): one place that takes the instances' locks, records each
attempt before the call, makes the batched call, and completes the record.
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from snoozebot import sdk
from snoozebot.audit import AuditLog
from snoozebot.errors import PluginUnavailable
from snoozebot.fleet import Scope
from snoozebot.host.client import ProviderClient
from snoozebot.host.replies import MalformedReply
from snoozebot.locks import DEFAULT_LOCK_TIMEOUT, InstanceLocks
from snoozebot.results import Action, ActionResult
from snoozebot.savings.journal import Journal
from snoozebot.store import Store, open_store

__all__ = ["ActionContext", "default_actor", "run_action"]



@dataclass(frozen=True)
class ActionContext:
    """What every stop and start goes through: the audit log, the per-instance locks, the savings journal."""

    audit: AuditLog
    locks: InstanceLocks
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    journal: Journal | None = None

    @classmethod
    def in_directory(
        cls, state_directory: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, store: Store | None = None
    ) -> ActionContext:
        """The audit log, locks and savings journal of a state directory (``store``: the configured one)."""
        chosen = store if store is not None else open_store(state_directory, lock_timeout=lock_timeout)
        audit = AuditLog(chosen, lock_timeout=lock_timeout)  # a held database too
        locks = InstanceLocks(state_directory, chosen)
        return cls(audit, locks, lock_timeout, Journal.in_store(chosen))

    def seen(self, instances: Iterable[sdk.Instance]) -> None:
        """A listing's instances: end the snoozes of those awake again (see ``docs/savings.md``)."""
        if self.journal is not None:
            self.journal.seen(instances)


def default_actor() -> str:
    """``cli:USER`` for commands run by a person or cron."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def run_action(
    client: ProviderClient,
    context: ActionContext,
    *,
    action: Action,
    instance_ids: list[str],
    dry_run: bool = False,
    hibernate: bool = False,
    actor: str,
    source: str = "cli",
    where: Scope | None = None,
) -> list[ActionResult]:
    """Stop or start ``instance_ids`` in one batched call, locked and audited before and after.

    ``where`` is the fleet scope the client serves (None: the provider's own
    options); its target and labels go into the audit rows and the results.

    Waiting for the locks is bounded by the context's ``lock_timeout``
    (LockTimeout, exit 1); a dry run changes nothing and takes no lock.
    Per-instance failures are results with ``ok`` false; a plugin that is
    unavailable fails every attempt in the log and is re-raised.
    """
    ids = list(dict.fromkeys(instance_ids))
    locked = (
        contextlib.nullcontext()
        if dry_run
        # ids are unique within a scope: a fleet scope's locks are its own
        else context.locks.hold(_lock_owner(client.name, where), ids, timeout=context.lock_timeout)
    )
    with locked:
        results = _audited(client, context.audit, action, ids, dry_run=dry_run, hibernate=hibernate,
                           actor=actor, source=source, where=where)
        if context.journal is not None and not dry_run:  # docs/savings.md
            target = where.target if where is not None else None
            context.journal.record(client.name, action, results, source=source, target=target)
    if where is None or where.target is None:
        return results
    return [replace(r, target=where.target, scope=dict(where.labels)) for r in results]


def _lock_owner(provider: str, where: Scope | None) -> str:
    return provider if where is None or where.target is None else f"{provider} {where.labels_json()}"


def _audited(
    client: ProviderClient,
    audit: AuditLog,
    action: Action,
    ids: list[str],
    *,
    dry_run: bool,
    hibernate: bool,
    actor: str,
    source: str,
    where: Scope | None,
) -> list[ActionResult]:
    target = where.target if where is not None else None
    rows = audit.begin(
        actor=actor,
        source=source,
        provider=client.name,
        action=action,
        instances=ids,
        dry_run=dry_run,
        target=target,
        scope=where.labels_json() if where is not None and target is not None else None,
    )
    try:
        if action == "stop":
            results = client.stop_instances(ids, hibernate=hibernate, dry_run=dry_run)
        else:
            results = client.start_instances(ids, dry_run=dry_run)
    except (PluginUnavailable, sdk.ProviderError) as exc:
        # A malformed reply leaves it open whether the plugin acted: the rows say "unknown".
        result = "unknown" if isinstance(exc, MalformedReply) else None
        failed = (ActionResult.failed(iid, client.name, exc) for iid in ids)
        audit.finish(zip(rows, failed, strict=True), result=result)
        raise
    audit.finish(zip(rows, results, strict=True))
    return results

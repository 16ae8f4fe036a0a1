"""Stopping and starting instances through a provider: locked, audited, batched.

Shared by every acting path (the CLI, the scheduler, idle checks, the agent's
REST and UI actions): one place that takes the instances' locks, records each
attempt before the call, makes the batched call, and completes the record.
"""

from __future__ import annotations

import contextlib
import getpass
from dataclasses import dataclass
from pathlib import Path

from snoozebot import sdk
from snoozebot.audit import AuditLog
from snoozebot.errors import PluginUnavailable
from snoozebot.host.client import ProviderClient
from snoozebot.host.replies import MalformedReply
from snoozebot.locks import InstanceLocks
from snoozebot.results import Action, ActionResult
from snoozebot.store import Store, open_store

__all__ = ["DEFAULT_LOCK_TIMEOUT", "ActionContext", "default_actor", "run_action"]

DEFAULT_LOCK_TIMEOUT = 60.0
"""Seconds an acting path waits for another one's instance locks (``--lock-timeout``)."""


@dataclass(frozen=True)
class ActionContext:
    """What every stop and start goes through: the audit log and the per-instance locks."""

    audit: AuditLog
    locks: InstanceLocks
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT

    @classmethod
    def in_directory(
        cls, state_directory: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, store: Store | None = None
    ) -> ActionContext:
        """The audit log and locks of a state directory, in ``store`` (None: the one configured)."""
        chosen = store if store is not None else open_store(state_directory, lock_timeout=lock_timeout)
        audit = AuditLog(chosen, lock_timeout=lock_timeout)  # a held database too
        return cls(audit, InstanceLocks(state_directory, chosen), lock_timeout)


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
) -> list[ActionResult]:
    """Stop or start ``instance_ids`` in one batched call, locked and audited before and after.

    Waiting for the locks is bounded by the context's ``lock_timeout``
    (LockTimeout, exit 1); a dry run changes nothing and takes no lock.
    Per-instance failures are results with ``ok`` false; a plugin that is
    unavailable fails every attempt in the log and is re-raised.
    """
    ids = list(dict.fromkeys(instance_ids))
    locked = (
        contextlib.nullcontext()
        if dry_run
        else context.locks.hold(client.name, ids, timeout=context.lock_timeout)
    )
    with locked:
        return _audited(client, context.audit, action, ids, dry_run=dry_run, hibernate=hibernate,
                        actor=actor, source=source)


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
) -> list[ActionResult]:
    rows = audit.begin(
        actor=actor, source=source, provider=client.name, action=action, instances=ids, dry_run=dry_run
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

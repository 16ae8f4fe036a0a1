"""Stopping and starting instances through a provider, with the audit trail.

Shared by the CLI, the agent and the scheduler: one place that records an
attempt before the call, makes the batched call, and completes the record.
"""

from __future__ import annotations

import getpass
from contextlib import AbstractContextManager
from pathlib import Path

from snoozebot import sdk
from snoozebot.audit import AuditLog
from snoozebot.errors import PluginUnavailable
from snoozebot.host.client import ProviderClient
from snoozebot.host.replies import MalformedReply
from snoozebot.results import Action, ActionResult
from snoozebot.state import exclusive_lock

__all__ = ["ACTION_LOCK_FILE", "action_lock", "default_actor", "run_action"]

ACTION_LOCK_FILE = "actions.lock"


def action_lock(state_directory: Path, *, timeout: float) -> AbstractContextManager[None]:
    """The lock a run holds while it starts or stops instances, so overlapping cron runs take turns."""
    return exclusive_lock(state_directory / ACTION_LOCK_FILE, timeout=timeout, what="instance actions")


def default_actor() -> str:
    """``cli:USER`` for commands run by a person or cron."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def run_action(
    client: ProviderClient,
    audit: AuditLog,
    *,
    action: Action,
    instance_ids: list[str],
    dry_run: bool = False,
    hibernate: bool = False,
    actor: str,
    source: str = "cli",
) -> list[ActionResult]:
    """Stop or start ``instance_ids`` in one batched call, audited before and after.

    Per-instance failures are results with ``ok`` false; a plugin that is
    unavailable fails every attempt in the log and is re-raised.
    """
    ids = list(dict.fromkeys(instance_ids))
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

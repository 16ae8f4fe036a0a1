"""Stopping and starting instances through a provider, with the audit trail.

Shared by the CLI, the agent and the scheduler: one place that records an
attempt before the call, makes the batched call, and completes the record.
"""

from __future__ import annotations

import getpass
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from snoozebot import sdk
from snoozebot.audit import AuditLog, Outcome
from snoozebot.errors import PluginUnavailable
from snoozebot.host.client import ActionOutcome, ProviderClient
from snoozebot.state import exclusive_lock

__all__ = ["ACTION_LOCK_FILE", "Action", "ActionResult", "action_lock", "default_actor", "run_action"]

Action = Literal["stop", "start"]
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


@dataclass(frozen=True)
class ActionResult:
    """One instance's result, in the JSON shape of DESIGN.md section 4."""

    id: str
    provider: str
    ok: bool
    state: str | None
    error_code: str | None = None
    error_message: str | None = None
    instance: sdk.Instance | None = None

    @classmethod
    def from_outcome(cls, outcome: ActionOutcome) -> ActionResult:
        if outcome.error is not None:
            return cls(outcome.id, outcome.provider, False, None, outcome.error.code, outcome.error.message)
        state = outcome.instance.state.value if outcome.instance else None
        return cls(outcome.id, outcome.provider, True, state, instance=outcome.instance)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "ok": self.ok,
            "state": self.state,
            "error": {"code": self.error_code, "message": self.error_message} if not self.ok else None,
        }


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
            outcomes = client.stop_instances(ids, hibernate=hibernate, dry_run=dry_run)
        else:
            outcomes = client.start_instances(ids, dry_run=dry_run)
    except (PluginUnavailable, sdk.ProviderError) as exc:
        code = getattr(exc, "code", "error")
        audit.finish((row, Outcome(False, None, code, str(exc))) for row in rows)
        raise
    results = [ActionResult.from_outcome(o) for o in outcomes]
    outcomes_by_row = zip(rows, results, strict=True)
    audit.finish((row, Outcome(r.ok, r.state, r.error_code, r.error_message)) for row, r in outcomes_by_row)
    return results

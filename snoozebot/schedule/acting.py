"""Acting on a run's plan: one batched, audited call per order tier (docs/schedules.md#order).

Tiers go one after the other. Before the next start tier, the instances of
the one before are waited for until they run (bounded by ``--timeout``); a
tier with any failure (a refused start, a wait that timed out, a batch that
failed as a whole) holds back every tier behind it: their rows fail with
``held_back`` and nothing is asked of the provider for them. With one tier
(no ``snoozebot-order`` tags) this is one batched stop and one batched start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from snoozebot import sdk
from snoozebot.errors import PluginUnavailable
from snoozebot.fleet import Scope
from snoozebot.host.client import ProviderClient
from snoozebot.operations import ActionContext, run_action
from snoozebot.results import Action, ActionResult
from snoozebot.schedule.plan import Decided, Tier
from snoozebot.schedule.rows import Row
from snoozebot.waiting import target_states, wait_for

__all__ = ["act_batch", "act_in_tiers"]


def _row(client: ProviderClient, decided: Decided, action: Action, error: dict[str, Any] | None) -> Row:
    inst, decision = decided
    return Row(inst.id, client.name, decision.schedule, action, error is None, error, decision.reason)


def act_batch(
    client: ProviderClient,
    context: ActionContext,
    action: Action,
    decided: Sequence[Decided],
    *,
    actor: str,
    where: Scope | None = None,
) -> tuple[list[Row], Exception | None]:
    """One batched, audited call; a call that fails as a whole fails each row and is returned."""
    ids = [inst.id for inst, _ in decided]
    try:
        results = run_action(
            client, context, action=action, instance_ids=ids, actor=actor, source="schedule", where=where
        )
    except (PluginUnavailable, sdk.ProviderError) as exc:
        failed = {"code": exc.code, "message": str(exc)}
        return [_row(client, d, action, failed) for d in decided], exc
    by_id: dict[str, ActionResult] = {r.id: r for r in results}
    rows = []
    for item in decided:
        result = by_id.get(item[0].id)
        error: dict[str, Any] | None = None
        if result is None:
            error = {"code": "no_result", "message": f"the provider returned no result for {item[0].id}"}
        elif result.failure is not None:
            error = result.failure.to_dict()
        rows.append(_row(client, item, action, error))
    return rows, None


def _wait_running(client: ProviderClient, rows: list[Row], *, timeout: float) -> list[Row]:
    """The rows of a started tier, each failed when its instance did not run within ``timeout``."""
    started = [r.id for r in rows if r.ok]
    waited = wait_for(client.get_instance_info, started, target_states("start"), timeout=timeout)
    out = []
    for row in rows:
        outcome = waited.get(row.id)
        if isinstance(outcome, Exception):
            error = {"code": str(getattr(outcome, "code", "wait_failed")), "message": str(outcome)}
            out.append(replace(row, ok=False, error=error))
        else:
            out.append(row)
    return out


def act_in_tiers(
    client: ProviderClient,
    context: ActionContext,
    action: Action,
    tiers: Sequence[Tier],
    *,
    actor: str,
    wait_timeout: float,
    where: Scope | None = None,
) -> tuple[list[Row], Exception | None]:
    """Act tier by tier; returns the rows and the first batch error that failed a call as a whole."""
    rows: list[Row] = []
    failure: Exception | None = None
    held: dict[str, str] | None = None
    for index, tier in enumerate(tiers):
        if held is not None:
            rows += [_row(client, d, action, held) for d in tier.members]
            continue
        acted, error = act_batch(client, context, action, tier.members, actor=actor, where=where)
        failure = failure or error
        if action == "start" and index + 1 < len(tiers) and error is None:
            acted = _wait_running(client, acted, timeout=wait_timeout)
        rows += acted
        bad = next((r for r in acted if not r.ok), None)
        if bad is not None and bad.error is not None:
            verb = "started" if action == "start" else "stopped"
            held = {
                "code": "held_back",
                "message": f"not {verb}: order tier {tier.order} failed ({bad.id}: {bad.error['message']})",
            }
    return rows, failure

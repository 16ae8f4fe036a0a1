"""Acting on a run's plans: one batched, audited call per order tier (docs/schedules.md#order).

Tiers go one after the other, across every share acting together: the
scopes of one fleet target (or one provider named with ``-p`` alone). The
shares of a tier are acted on concurrently; before the next start tier,
their instances are waited for until they run (bounded by ``--timeout``). A
tier with any failure in any share (a refused start, a wait that timed out,
a batch that failed as a whole) holds back every tier behind it in every
share: their rows fail with ``held_back`` and nothing is asked of a provider
for them. With one tier (no ``snoozebot-order`` tags) this is one batched
stop and one batched start per share.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from functools import partial
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

__all__ = ["Acted", "Share", "act_batch", "act_in_tiers"]


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


@dataclass(frozen=True)
class Share:
    """One place's part of an action: the client (and fleet scope) that acts, and its tiers."""

    client: ProviderClient
    tiers: Sequence[Tier]
    where: Scope | None = None


Acted = tuple[list[Row], Exception | None]
"""A share's rows, and the first batch error that failed one of its calls as a whole."""


def _act_tier(
    share: Share,
    tier: Tier,
    *,
    context: ActionContext,
    action: Action,
    actor: str,
    wait_timeout: float | None,
) -> Acted:
    """One share's batch of one tier, waited for until running when ``wait_timeout`` is given."""
    rows, error = act_batch(share.client, context, action, tier.members, actor=actor, where=share.where)
    if wait_timeout is not None and error is None:
        rows = _wait_running(share.client, rows, timeout=wait_timeout)
    return rows, error


def _held_back(action: Action, order: int, bad: Row) -> dict[str, str]:
    verb = "started" if action == "start" else "stopped"
    message = (bad.error or {}).get("message", "")
    return {"code": "held_back", "message": f"not {verb}: order tier {order} failed ({bad.id}: {message})"}


def act_in_tiers(
    shares: Sequence[Share],
    context: ActionContext,
    action: Action,
    *,
    actor: str,
    wait_timeout: float,
    executor: Executor,
) -> list[Acted]:
    """Act tier by tier across ``shares`` (each tier's shares concurrently on ``executor``).

    Returns each share's rows and first whole-batch error, in the order of ``shares``.
    """
    by_order = [{tier.order: tier for tier in share.tiers} for share in shares]
    orders = sorted({order for tiers in by_order for order in tiers}, reverse=action == "stop")
    rows: list[list[Row]] = [[] for _ in shares]
    errors: list[Exception | None] = [None for _ in shares]
    held: dict[str, str] | None = None
    for index, order in enumerate(orders):
        due = [(k, tiers[order]) for k, tiers in enumerate(by_order) if order in tiers]
        if held is not None:
            for k, tier in due:
                rows[k] += [_row(shares[k].client, d, action, held) for d in tier.members]
            continue
        wait = wait_timeout if action == "start" and index + 1 < len(orders) else None
        act = partial(_act_tier, context=context, action=action, actor=actor, wait_timeout=wait)
        outcomes = executor.map(act, [shares[k] for k, _ in due], [tier for _, tier in due])
        bad: Row | None = None
        for (k, _), (acted, error) in zip(due, outcomes, strict=True):
            rows[k] += acted
            errors[k] = errors[k] or error
            bad = bad or next((r for r in acted if not r.ok), None)
        if bad is not None:
            held = _held_back(action, order, bad)
    return list(zip(rows, errors, strict=True))

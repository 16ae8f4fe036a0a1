"""The calls behind ``snoozebot instance`` that span providers: listings and waiting.

The commands in :mod:`snoozebot.cli.instance` only parse options and print;
these functions take the runtime's backend, whichever it is.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

from snoozebot import sdk
from snoozebot.backend import Backend, OnDone
from snoozebot.cli.waiting import target_states, wait_for
from snoozebot.errors import SnoozebotError
from snoozebot.results import Action, ActionResult, Failure
from snoozebot.runtime import Runtime

__all__ = ["Listing", "list_instances", "wait_results"]


@dataclass
class Listing:
    """Instances of several providers, and the providers that could not be listed."""

    instances: list[sdk.Instance] = field(default_factory=list)
    errors: dict[str, Exception] = field(default_factory=dict)


def list_instances(rt: Runtime[Backend], providers: list[str], filters: dict[str, str]) -> Listing:
    """List ``providers`` concurrently; one failing provider never hides the others."""
    listing = Listing()
    if not providers:
        return listing
    pool = ThreadPoolExecutor(max_workers=len(providers))
    try:
        futures = {pool.submit(rt.backend.provider(p).list_instances, filters): p for p in providers}
        for future in as_completed(futures):
            try:
                listing.instances.extend(future.result())
            except (SnoozebotError, sdk.ProviderError) as exc:
                listing.errors[futures[future]] = exc
    finally:
        # On Ctrl-C do not wait for calls in flight: the runtime stops the workers.
        pool.shutdown(wait=False, cancel_futures=True)
    listing.instances.sort(key=lambda i: (i.provider, i.id))
    return listing


def wait_results(
    rt: Runtime[Backend],
    results: list[ActionResult],
    *,
    hibernate: bool = False,
    action: Action,
    on_done: OnDone | None = None,
) -> list[ActionResult]:
    """Wait (within the runtime's timeout) until every successful result reached its target state."""
    by_provider: dict[str, list[str]] = {}
    for r in results:
        if r.ok:
            by_provider.setdefault(r.provider, []).append(r.id)
    settled: dict[tuple[str, str], sdk.Instance | Exception] = {}
    for provider, ids in by_provider.items():
        client = rt.backend.provider(provider)
        waited = wait_for(
            client.get_instance_info,
            ids,
            target_states(action, hibernate=hibernate),
            timeout=rt.timeout,
            on_settled=(lambda _iid, _value: on_done(1)) if on_done else None,
        )
        settled.update({(provider, iid): value for iid, value in waited.items()})
    return [_after_wait(r, settled.get((r.provider, r.id))) for r in results]


def _after_wait(result: ActionResult, value: sdk.Instance | Exception | None) -> ActionResult:
    if value is None:
        return result
    if isinstance(value, sdk.Instance):
        return replace(result, instance=value)
    return replace(result, failure=Failure.of(value))

"""The calls behind ``snoozebot instance``: each takes the runtime and returns plain results.

The commands in :mod:`snoozebot.cli.instance` only parse options and print;
everything that talks to providers is here, so another backend (a remote
agent) can stand in for these few functions without touching the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

from snoozebot import sdk
from snoozebot.audit import AuditLog
from snoozebot.cli.runtime import Runtime
from snoozebot.cli.waiting import target_states, wait_for
from snoozebot.errors import SnoozebotError
from snoozebot.operations import Action, ActionResult, default_actor, run_action

__all__ = [
    "AUDIT_FILE",
    "Listing",
    "OnDone",
    "get_instance",
    "list_instances",
    "run_actions",
    "wait_results",
]

AUDIT_FILE = "audit.sqlite3"
"""The audit log's file name in the state directory (shared with the agent and scheduler)."""

OnDone = Callable[[int], None]
"""Told how many more instances are finished (drives a progress bar)."""

_PROGRESS_CHUNK = 100
_CHUNK_THREADS = 8


@dataclass
class Listing:
    """Instances of several providers, and the providers that could not be listed."""

    instances: list[sdk.Instance] = field(default_factory=list)
    errors: dict[str, Exception] = field(default_factory=dict)


def list_instances(rt: Runtime, providers: list[str], filters: dict[str, str]) -> Listing:
    """List ``providers`` concurrently; one failing provider never hides the others."""
    listing = Listing()
    if not providers:
        return listing
    pool = ThreadPoolExecutor(max_workers=len(providers))
    try:
        futures = {pool.submit(rt.manager.client(p).list_instances, filters): p for p in providers}
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


def get_instance(rt: Runtime, provider: str, instance_id: str) -> sdk.Instance:
    """One instance as its provider describes it now."""
    return rt.manager.client(provider).get_instance_info(instance_id)


def run_actions(
    rt: Runtime,
    provider: str,
    action: Action,
    instance_ids: list[str],
    *,
    hibernate: bool = False,
    dry_run: bool = False,
    on_done: OnDone | None = None,
) -> list[ActionResult]:
    """Stop or start ``instance_ids`` in id order, audited.

    One call to the provider, which batches and parallelises as its options
    say; when ``on_done`` watches progress, parts of 100 ids are sent
    concurrently instead, so the bar moves.
    """
    client = rt.manager.client(provider)
    audit = AuditLog(rt.state / AUDIT_FILE)
    actor = default_actor()
    ids = list(dict.fromkeys(instance_ids))
    size = _PROGRESS_CHUNK if on_done is not None else max(1, len(ids))
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]

    def one(chunk: list[str]) -> list[ActionResult]:
        results = run_action(
            client,
            audit,
            action=action,
            instance_ids=chunk,
            dry_run=dry_run,
            hibernate=hibernate,
            actor=actor,
        )
        if on_done is not None:
            on_done(len(chunk))
        return results

    if len(chunks) <= 1:
        return one(chunks[0]) if chunks else []
    pool = ThreadPoolExecutor(max_workers=min(_CHUNK_THREADS, len(chunks)))
    try:
        futures: list[Future[list[ActionResult]]] = [pool.submit(one, c) for c in chunks]
        return [r for f in futures for r in f.result()]
    finally:
        # On Ctrl-C do not wait for calls in flight: the runtime stops the worker.
        pool.shutdown(wait=False, cancel_futures=True)


def wait_results(
    rt: Runtime,
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
        client = rt.manager.client(provider)
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
        return replace(result, state=value.state.value, instance=value)
    code = getattr(value, "code", "error")
    return replace(result, ok=False, error_code=str(code), error_message=str(value))

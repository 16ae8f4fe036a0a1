"""The calls behind ``snoozebot instance`` that span scopes: listings, lookups, actions, waiting.

The commands in :mod:`snoozebot.cli.instance` only parse options and print;
these functions take the runtime's backend (whichever it is) and the scopes a
command covers (each ``-p`` provider, each scope of each ``-t`` target), worked
concurrently: a scope that fails fails alone.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from snoozebot import sdk
from snoozebot.backend import Backend, OnDone
from snoozebot.errors import SnoozebotError, UsageError
from snoozebot.fleet import Scope
from snoozebot.results import Action, ActionResult, Failure
from snoozebot.runtime import Runtime
from snoozebot.savings.journal import Journal
from snoozebot.store import open_store
from snoozebot.waiting import target_states, wait_for

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Acted",
    "Found",
    "Listing",
    "act",
    "act_where",
    "eligible",
    "find_instance",
    "instance_doc",
    "list_instances",
    "wait_results",
]

DEFAULT_CONCURRENCY = 16
"""Scopes worked at once (``--concurrency``)."""

T = TypeVar("T")
Found = tuple[Scope, sdk.Instance]


@dataclass
class Listing:
    """Instances found in each scope, and the scopes that could not be listed."""

    found: list[Found] = field(default_factory=list)
    errors: list[tuple[Scope, Exception]] = field(default_factory=list)


def instance_doc(scope: Scope, instance: sdk.Instance) -> dict[str, Any]:
    """An Instance object as ``--json`` shows it, with the target and scope it was found in."""
    return {**instance.to_dict(), "target": scope.target, "scope": dict(scope.labels)}


def _each_scope(
    scopes: list[Scope], work: Callable[[Scope], T], *, concurrency: int
) -> list[tuple[Scope, T | Exception]]:
    """``work(scope)`` for every scope, ``concurrency`` at a time; expected failures are returned."""

    def guarded(scope: Scope) -> T | Exception:
        try:
            return work(scope)
        except (SnoozebotError, sdk.ProviderError) as exc:
            return exc

    if len(scopes) == 1:
        return [(scopes[0], guarded(scopes[0]))]
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(scopes))))
    try:
        return list(zip(scopes, pool.map(guarded, scopes), strict=True))
    finally:
        # On Ctrl-C do not wait for calls in flight: the runtime stops the workers.
        pool.shutdown(wait=False, cancel_futures=True)


def list_instances(
    rt: Runtime[Backend], scopes: list[Scope], filters: dict[str, str], *, concurrency: int
) -> Listing:
    """List every scope concurrently; one failing scope never hides the others."""
    listing = Listing()
    answers = _each_scope(
        scopes,
        lambda s: rt.backend.provider(s.provider, scope=s).list_instances(filters),
        concurrency=concurrency,
    )
    for scope, answer in answers:
        if isinstance(answer, Exception):
            listing.errors.append((scope, answer))
        else:
            listing.found += [(scope, instance) for instance in answer]
    listing.found.sort(key=lambda f: (f[0].target or "", f[0].key, f[1].provider, f[1].id))
    journal = Journal.in_store(open_store(rt.state_directory, rt.config))
    journal.seen(i for _, i in listing.found)  # docs/savings.md
    return listing


def find_instance(rt: Runtime[Backend], scopes: list[Scope], instance_id: str, *, concurrency: int) -> Found:
    """The one scope that holds ``instance_id``, and the instance as it is now."""
    answers = _each_scope(
        scopes,
        lambda s: rt.backend.provider(s.provider, scope=s).get_instance_info(instance_id),
        concurrency=concurrency,
    )
    found = [(scope, answer) for scope, answer in answers if isinstance(answer, sdk.Instance)]
    if len(found) > 1:
        where = "; ".join(scope.describe() for scope, _ in found)
        raise UsageError(f"{instance_id} is in several scopes ({where}): narrow with --scope KEY=VALUE")
    if found:
        return found[0]
    failures = [answer for _, answer in answers if isinstance(answer, Exception)]
    others = [f for f in failures if not isinstance(f, sdk.InstanceNotFound)]
    raise (others or failures)[0]


def eligible(instance: sdk.Instance, action: Action) -> bool:
    """Whether a ``--filter`` stop (running ones) or start (stopped or suspended ones) acts on it."""
    if action == "stop":
        return instance.state in (sdk.InstanceState.RUNNING, sdk.InstanceState.PENDING)
    return instance.state in (sdk.InstanceState.STOPPED, sdk.InstanceState.SUSPENDED)


def _locate(
    rt: Runtime[Backend], scopes: list[Scope], ids: list[str], *, concurrency: int
) -> tuple[dict[Scope, list[str]], list[tuple[Scope, Exception]], list[str]]:
    """Which scopes hold which ids (one listing per scope), the scopes that failed, the ids found nowhere."""
    listing = list_instances(rt, scopes, {}, concurrency=concurrency)
    wanted = set(ids)
    where: dict[Scope, list[str]] = {}
    for scope, instance in listing.found:
        if instance.id in wanted:
            where.setdefault(scope, []).append(instance.id)
    seen = {iid for found in where.values() for iid in found}
    return where, listing.errors, [iid for iid in ids if iid not in seen]


@dataclass
class Acted:
    """What a stop or start across scopes did: each result with its scope, and the scopes that failed."""

    placed: list[tuple[Scope, ActionResult]] = field(default_factory=list)
    failed: list[tuple[Scope, Exception]] = field(default_factory=list)

    @property
    def results(self) -> list[ActionResult]:
        return [result for _, result in self.placed]


def act(
    rt: Runtime[Backend],
    scopes: list[Scope],
    action: Action,
    ids: list[str],
    *,
    hibernate: bool,
    dry_run: bool,
    concurrency: int,
    on_done: OnDone | None = None,
) -> Acted:
    """Stop or start ``ids`` across ``scopes``.

    With one scope the ids go to it directly (an unknown id fails there);
    with several, each id is looked for in every scope (one listing each) and
    acted on where it is; an id found nowhere fails alone.
    """
    if len(scopes) == 1:
        where: dict[Scope, list[str]] = {scopes[0]: ids}
        failed: list[tuple[Scope, Exception]] = []
        missing: list[str] = []
    else:
        where, failed, missing = _locate(rt, scopes, ids, concurrency=concurrency)
    acted = act_where(rt, where, action, hibernate=hibernate, dry_run=dry_run, concurrency=concurrency,
                      on_done=on_done)
    acted.failed[:0] = failed
    searched = ", ".join(dict.fromkeys(s.describe() for s in scopes))
    for iid in missing:
        gone = sdk.InstanceNotFound(f"instance {iid} was found in no scope ({searched})")
        acted.placed.append((scopes[0], ActionResult.failed(iid, scopes[0].provider, gone)))
    order = {iid: n for n, iid in enumerate(ids)}
    acted.placed.sort(key=lambda placed: order.get(placed[1].id, len(order)))
    return acted


def act_where(
    rt: Runtime[Backend],
    where: dict[Scope, list[str]],
    action: Action,
    *,
    hibernate: bool,
    dry_run: bool,
    concurrency: int,
    on_done: OnDone | None = None,
) -> Acted:
    """Stop or start the ids of each scope in it, the scopes concurrently.

    With one scope, a failure of the whole call is raised (its exit code is the
    command's); with several, it fails that scope alone.
    """
    acted = Acted()

    def one(scope: Scope) -> list[ActionResult]:
        return rt.backend.act(
            scope.provider,
            action,
            where[scope],
            hibernate=hibernate,
            dry_run=dry_run,
            on_done=on_done,
            scope=scope,
        )

    if len(where) == 1:
        [scope] = where
        acted.placed = [(scope, r) for r in one(scope)]
        return acted
    for scope, answer in _each_scope(list(where), one, concurrency=concurrency):
        if isinstance(answer, Exception):
            acted.failed.append((scope, answer))
            answer_results = [ActionResult.failed(iid, scope.provider, answer) for iid in where[scope]]
        else:
            answer_results = answer
        acted.placed += [(scope, r) for r in answer_results]
    return acted


def wait_results(
    rt: Runtime[Backend],
    acted: Acted,
    *,
    hibernate: bool = False,
    action: Action,
    on_done: OnDone | None = None,
) -> Acted:
    """Wait (within the runtime's timeout) until every successful result reached its target state."""
    waiting: dict[Scope, list[str]] = {}
    for scope, result in acted.placed:
        if result.ok:
            waiting.setdefault(scope, []).append(result.id)
    settled: dict[tuple[Scope, str], sdk.Instance | Exception] = {}
    for scope, ids in waiting.items():
        waited = wait_for(
            rt.backend.provider(scope.provider, scope=scope).get_instance_info,
            ids,
            target_states(action, hibernate=hibernate),
            timeout=rt.timeout,
            on_settled=(lambda _iid, _value: on_done(1)) if on_done else None,
        )
        settled.update({(scope, iid): value for iid, value in waited.items()})
    placed = [(scope, _after_wait(result, settled.get((scope, result.id)))) for scope, result in acted.placed]
    return Acted(placed, acted.failed)


def _after_wait(result: ActionResult, value: sdk.Instance | Exception | None) -> ActionResult:
    if value is None:
        return result
    if isinstance(value, sdk.Instance):
        return replace(result, instance=value)
    return replace(result, failure=Failure.of(value))

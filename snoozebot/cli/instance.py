"""``snoozebot instance``: list, inspect, stop and start instances (docs/cli.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from snoozebot.cli.agent import AgentOpt
from snoozebot.cli.options import (
    ConcurrencyOpt,
    ConfigOpt,
    JsonOpt,
    LockTimeoutOpt,
    OptionOpt,
    ProviderOpt,
    ScopeOpt,
    TargetsOpt,
    TimeoutOpt,
    key_value_pairs,
    provider_names,
)
from snoozebot.cli.output import emit_json, error, info, table
from snoozebot.cli.progress import progress
from snoozebot.config import load_config, parse_options
from snoozebot.errors import OperationFailed, UsageError, exit_code_for
from snoozebot.runtime import Runtime, open_runtime_for

if TYPE_CHECKING:
    from snoozebot.backend import Backend
    from snoozebot.fleet import Scope
    from snoozebot.results import Action, ActionResult

__all__ = ["app"]

app = typer.Typer(
    help="Cloud instances: list, inspect, stop and start them through a provider.",
    no_args_is_help=True,
)

ProvidersOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--provider",
        "-p",
        metavar="PROVIDER",
        help="Provider name, repeatable. Default: every loaded provider.",
        callback=provider_names,
    ),
]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        metavar="KEY=VALUE",
        help="Only instances whose tag/label KEY equals VALUE; repeatable.",
        callback=key_value_pairs,
    ),
]
IdsArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="ID...", help="Instance ids; none with --filter acts on every match.", show_default=False
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Change nothing; check and say what would happen.")
]
WaitOpt = Annotated[
    bool,
    typer.Option("--wait", help="Wait until every instance reports the target state (within --timeout)."),
]


def _check_ids(ids: list[str]) -> list[str]:
    from snoozebot.text import has_control, one_line

    cleaned = [i.strip() for i in ids]
    if any(not i for i in cleaned):
        raise UsageError("an instance id must not be empty")
    for iid in cleaned:
        if has_control(iid):
            raise UsageError(f"an instance id must not contain control characters: {one_line(iid)}")
    return list(dict.fromkeys(cleaned))


_NOTHING_LOADED = "no provider is loaded: name one with -p/--provider NAME (or a target with -t/--target)"

# -- where a command looks: providers, targets, scopes -------------------------------


@dataclass(frozen=True)
class _Where:
    """The options every instance command shares: where to look, and how."""

    providers: list[str]
    targets: list[str]
    scope: list[str]
    concurrency: int
    option: list[str] | None
    config: str | None
    timeout: float | None
    agent: str | None
    lock_timeout: float | None = None

    @contextlib.contextmanager
    def open(self) -> Iterator[tuple[Runtime[Backend], list[Scope]]]:
        """The runtime, and the scopes the command covers (usage errors before anything runs)."""
        from snoozebot.fleet import choose_scopes

        filters = parse_options(self.scope)
        with open_runtime_for(
            self.agent, config=self.config, options=self.option, timeout=self.timeout,
            lock_timeout=self.lock_timeout,
        ) as rt:
            installed: list[str] = []

            def expand(provider: str, options: Mapping[str, str]) -> Mapping[str, list[str]]:
                installed[:] = installed or [s.name for s in rt.backend.statuses()]
                if provider not in installed:
                    raise UsageError(f"a target names provider {provider!r}, which is not installed")
                return rt.backend.expand_options(provider, options)

            scopes = choose_scopes(
                rt.config if not self.agent else load_config(self.config),
                providers=self.providers,
                targets=self.targets,
                filters=filters,
                overrides=parse_options(self.option or []),
                default_providers=rt.backend.loaded_names,
                expander=expand,
            )
            yield rt, scopes


def _scope_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def _scope_failed(scope: Scope, exc: Exception) -> None:
    error(f"{scope.describe()}: {exc}")


# -- list and info -------------------------------------------------------------


def _tags_text(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


@app.command("list")
def list_(  # noqa: PLR0917 - Typer passes options by keyword
    provider: ProvidersOpt = None,
    target: TargetsOpt = None,
    scope: ScopeOpt = None,
    filter_: FilterOpt = None,
    json_: JsonOpt = False,
    concurrency: ConcurrencyOpt = 16,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """List instances (terminated ones are left out) of providers or fleet targets.

    Without -p or -t: every target of the config, else every loaded provider.
    Filters are server-side tag/label equality filters.

    Example: snoozebot instance list -t prod --scope region=eu-west-1 --filter Team=ml --json
    """
    from snoozebot.cli import instance_calls as calls  # keeps `plugins list` fast

    filters = parse_options(filter_ or [])
    where = _Where(provider or [], target or [], scope or [], concurrency, option, config, timeout, agent)
    with where.open() as (rt, scopes):
        if not scopes:
            info("No providers are loaded. Load one first, e.g.: snoozebot plugins load aws")
        listing = calls.list_instances(rt, scopes, filters, concurrency=concurrency)
    if len(scopes) == 1 and listing.errors:
        raise listing.errors[0][1]
    fleet = any(s.target is not None for s in scopes)
    if json_:
        emit_json([calls.instance_doc(s, i) for s, i in listing.found])
    elif listing.found:
        columns = ["TARGET", "SCOPE"] if fleet else []
        rows = [
            [*([s.target, _scope_text(s.labels)] if fleet else []), i.provider, i.id, i.name, i.state.value,
             i.instance_type, i.zone, _tags_text(i.tags)]
            for s, i in listing.found
        ]
        table(None, [*columns, "PROVIDER", "ID", "NAME", "STATE", "TYPE", "ZONE", "TAGS"], rows)
    elif scopes and not listing.errors:
        info("No instances found.")
    for failed_scope, exc in listing.errors:
        _scope_failed(failed_scope, exc)
    if listing.errors:
        # some scopes listed, some not: the listing is incomplete (exit 1)
        every = len(listing.errors) == len(scopes)
        raise typer.Exit(max(exit_code_for(e) for _, e in listing.errors) if every else 1)


@app.command("info")
def info_(  # noqa: PLR0917 - Typer passes options by keyword
    instance_id: Annotated[str, typer.Argument(metavar="ID", help="Instance id.")],
    provider: ProvidersOpt = None,
    target: TargetsOpt = None,
    scope: ScopeOpt = None,
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Show one instance: state (and the cloud's own word for it), type, zone, launch time, tags.

    With a target, the instance is looked for in each of its scopes.

    Example: snoozebot instance info i-0123456789abcdef0 -p aws
    """
    from snoozebot.cli import instance_calls as calls

    iid = _check_ids([instance_id])[0]
    where = _Where(provider or [], target or [], scope or [], 16, option, config, timeout, agent)
    with where.open() as (rt, scopes):
        if not scopes:
            raise UsageError(_NOTHING_LOADED)
        found_scope, instance = calls.find_instance(rt, scopes, iid, concurrency=16)
    doc = calls.instance_doc(found_scope, instance)
    if json_:
        emit_json(doc)
        return
    doc["tags"] = _tags_text(instance.tags)
    doc["scope"] = _scope_text(found_scope.labels)
    table(None, ["FIELD", "VALUE"], [[k, v] for k, v in doc.items()])


# -- stop and start ------------------------------------------------------------


def _act(
    action: Action,
    ids: list[str] | None,
    filter_: list[str] | None,
    *,
    where: _Where,
    hibernate: bool,
    dry_run: bool,
    wait: bool,
    json_: bool,
) -> None:
    from snoozebot.cli import instance_calls as calls

    if ids and filter_:
        raise UsageError("give instance ids or --filter, not both")
    if not ids and not filter_:
        raise UsageError("name the instances: IDs, or --filter KEY=VALUE to act on every match")
    unlisted = 0
    checked = _check_ids(ids) if ids else []
    filters = parse_options(filter_ or [])
    with where.open() as (rt, scopes):
        if not scopes:
            raise UsageError(_NOTHING_LOADED)
        matching: dict[Scope, list[str]] = {}
        if not ids:
            listing = calls.list_instances(rt, scopes, filters, concurrency=where.concurrency)
            for failed_scope, exc in listing.errors:
                _scope_failed(failed_scope, exc)
            unlisted = len(listing.errors)
            for found_scope, instance in listing.found:
                if calls.eligible(instance, action):
                    matching.setdefault(found_scope, []).append(instance.id)
        count = len(checked) if ids else sum(len(v) for v in matching.values())
        verb = "Stopping" if action == "stop" else "Starting"
        with progress(f"{verb} {count} instance(s)", count, enabled=count > 1) as bar:
            advance = bar.advance if bar.visible else None
            if ids:
                acted = calls.act(
                    rt, scopes, action, checked, hibernate=hibernate, dry_run=dry_run,
                    concurrency=where.concurrency, on_done=advance,
                )
            else:
                acted = calls.act_where(
                    rt, matching, action, hibernate=hibernate, dry_run=dry_run,
                    concurrency=where.concurrency, on_done=advance,
                )
        if wait and not dry_run:
            goal = "stopped" if action == "stop" else "running"
            with progress(f"Waiting until {goal}", sum(r.ok for r in acted.results)) as bar:
                acted = calls.wait_results(rt, acted, hibernate=hibernate, action=action, on_done=bar.advance)
    for failed_scope, exc in acted.failed:
        _scope_failed(failed_scope, exc)
    _report(action, acted.results, dry_run=dry_run, json_=json_, fleet=any(s.target for s in scopes))
    if unlisted:
        raise typer.Exit(1)


def _problem(result: ActionResult) -> str:
    return result.failure.message if result.failure is not None else ""


def _report(action: Action, results: list[ActionResult], *, dry_run: bool, json_: bool, fleet: bool) -> None:
    failed = [r for r in results if not r.ok]
    columns = ["TARGET", "SCOPE"] if fleet else []

    def where(result: ActionResult) -> list[str | None]:
        return [result.target, _scope_text(result.scope)] if fleet else []

    if json_:
        emit_json([r.to_dict() for r in results])
    elif dry_run:
        rows = [[*where(r), r.id, r.state, f"would {action}" if r.ok else "", _problem(r)] for r in results]
        table(None, [*columns, "ID", "STATE NOW", "ACTION", "PROBLEM"], rows)
        info("Dry run: nothing was changed.")
    elif results:
        rows = [[*where(r), r.id, r.state, "ok" if r.ok else "failed", _problem(r)] for r in results]
        table(None, [*columns, "ID", "STATE", "RESULT", "ERROR"], rows)
    else:
        info(f"No instance matches; nothing to {action}.")
    if failed:
        raise OperationFailed(f"{len(failed)} of {len(results)} instance(s) failed to {action}")


HibernateOpt = Annotated[
    bool, typer.Option("--hibernate", help="Hibernate (keep memory) where the cloud supports it.")
]


@app.command("stop")
def stop(  # noqa: PLR0917 - Typer passes options by keyword
    ids: IdsArg = None,
    provider: ProvidersOpt = None,
    target: TargetsOpt = None,
    scope: ScopeOpt = None,
    filter_: FilterOpt = None,
    hibernate: HibernateOpt = False,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
    json_: JsonOpt = False,
    concurrency: ConcurrencyOpt = 16,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    lock_timeout: LockTimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Stop instances by id, or every running one that matches --filter; stopping a stopped one succeeds.

    With a target, each id is looked for in every scope. Every attempt is
    recorded in the audit log (see `snoozebot history`). Exit 1 when any
    instance or scope failed; the others are still stopped.

    Example: snoozebot instance stop i-0123456789abcdef0 i-0fedcba9876543210 -p aws --wait
    """
    where = _Where(
        provider or [], target or [], scope or [], concurrency, option, config, timeout, agent, lock_timeout
    )
    _act("stop", ids, filter_, where=where, hibernate=hibernate, dry_run=dry_run, wait=wait, json_=json_)


@app.command("start")
def start(  # noqa: PLR0917 - Typer passes options by keyword
    ids: IdsArg = None,
    provider: ProvidersOpt = None,
    target: TargetsOpt = None,
    scope: ScopeOpt = None,
    filter_: FilterOpt = None,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
    json_: JsonOpt = False,
    concurrency: ConcurrencyOpt = 16,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    lock_timeout: LockTimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Start (or resume) instances by id, or every stopped one that matches --filter.

    Starting a running instance succeeds. With a target, each id is looked for
    in every scope. Every attempt is recorded in the audit log. Exit 1 when any
    instance or scope failed; the others are still started.

    Example: snoozebot instance start i-0123456789abcdef0 -p aws --wait --timeout 300
    """
    where = _Where(
        provider or [], target or [], scope or [], concurrency, option, config, timeout, agent, lock_timeout
    )
    _act("start", ids, filter_, where=where, hibernate=False, dry_run=dry_run, wait=wait, json_=json_)


# -- snooze --------------------------------------------------------------------


@app.command("snooze")
def snooze(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Instance ids.", show_default=False)],
    provider: ProviderOpt,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="WHEN",
            help="ISO 8601 date-time with an offset or Z, or a duration: 90m, 2h, 3d.",
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the snooze instead.")] = False,
) -> None:
    """Keep instances out of schedule and idle stops until a time (an override that reverts by itself).

    The snooze is kept in the state directory, shown by `schedule explain`,
    audited (source snooze) and gone once WHEN has passed. --clear removes it.

    Example: snoozebot instance snooze i-0abc123 -p aws --until 2026-11-24T08:00:00+01:00
    """
    import datetime as dt

    from snoozebot.audit import AuditLog
    from snoozebot.operations import default_actor
    from snoozebot.overrides import OverrideStore, parse_until
    from snoozebot.state import state_dir
    from snoozebot.store import open_store

    ids = _check_ids(ids)
    if clear == (until is not None):
        raise UsageError("pass exactly one of --until WHEN and --clear")
    now = dt.datetime.now(dt.UTC)
    moment = None
    if until is not None:
        try:
            moment = parse_until(until, now=now)
        except ValueError as exc:
            raise UsageError(f"--until: {exc}") from None
        if moment <= now:
            raise UsageError(f"--until: {until} has already passed")
    directory = state_dir()
    chosen = open_store(directory)
    store = OverrideStore.in_directory(directory, store=chosen)
    audit = AuditLog.in_directory(directory, store=chosen)
    actor = default_actor()
    for iid in ids:
        if moment is not None:
            store.snooze(provider, iid, moment, actor=actor)
            audit.note(actor=actor, source="snooze", provider=provider, action="snooze", instance=iid)
            info(f"{iid} ({provider}): snoozed until {moment.isoformat()}")
        elif store.clear_snooze(provider, iid):
            audit.note(actor=actor, source="snooze", provider=provider, action="unsnooze", instance=iid)
            info(f"{iid} ({provider}): snooze cleared")
        else:
            info(f"{iid} ({provider}): was not snoozed")

"""``snoozebot instance``: list, inspect, stop and start instances (DESIGN.md section 4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from snoozebot.cli.agent import AgentOpt
from snoozebot.cli.options import (
    ConfigOpt,
    JsonOpt,
    LockTimeoutOpt,
    OptionOpt,
    ProviderOpt,
    TimeoutOpt,
    key_value_pairs,
    provider_names,
)
from snoozebot.cli.output import emit_json, error, info, table
from snoozebot.cli.progress import progress
from snoozebot.config import parse_options
from snoozebot.errors import OperationFailed, UsageError, exit_code_for
from snoozebot.runtime import open_runtime_for

if TYPE_CHECKING:
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
    list[str], typer.Argument(metavar="ID...", help="Instance ids, one or more.", show_default=False)
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


# -- list and info -------------------------------------------------------------


def _tags_text(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


@app.command("list")
def list_(  # noqa: PLR0917 - Typer passes options by keyword
    provider: ProvidersOpt = None,
    filter_: FilterOpt = None,
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """List instances (terminated ones are left out) of one provider or every loaded one.

    Filters are server-side tag/label equality filters.

    Example: snoozebot instance list -p aws --filter Team=ml --json
    """
    from snoozebot.cli import instance_calls as calls  # keeps `plugins list` fast

    filters = parse_options(filter_ or [])
    with open_runtime_for(agent, config=config, options=option, timeout=timeout) as rt:
        providers = list(dict.fromkeys(provider or rt.backend.loaded_names()))
        if not providers:
            info("No providers are loaded. Load one first, e.g.: snoozebot plugins load aws")
        listing = calls.list_instances(rt, providers, filters)
    if len(providers) == 1 and listing.errors:
        raise listing.errors[providers[0]]
    if json_:
        emit_json([i.to_dict() for i in listing.instances])
    elif listing.instances:
        rows = [
            [i.provider, i.id, i.name, i.state.value, i.instance_type, i.zone, _tags_text(i.tags)]
            for i in listing.instances
        ]
        table(None, ["PROVIDER", "ID", "NAME", "STATE", "TYPE", "ZONE", "TAGS"], rows)
    elif providers and not listing.errors:
        info("No instances found.")
    for name, exc in sorted(listing.errors.items()):
        error(f"{name}: {exc}")
    if listing.errors:
        # some providers listed, some not: the listing is incomplete (exit 1)
        every = len(listing.errors) == len(providers)
        raise typer.Exit(max(exit_code_for(e) for e in listing.errors.values()) if every else 1)


@app.command("info")
def info_(  # noqa: PLR0917 - Typer passes options by keyword
    instance_id: Annotated[str, typer.Argument(metavar="ID", help="Instance id.")],
    provider: ProviderOpt,
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Show one instance: state (and the cloud's own word for it), type, zone, launch time, tags.

    Example: snoozebot instance info i-0123456789abcdef0 -p aws
    """
    with open_runtime_for(agent, config=config, options=option, timeout=timeout) as rt:
        instance = rt.backend.provider(provider).get_instance_info(_check_ids([instance_id])[0])
    doc = instance.to_dict()
    if json_:
        emit_json(doc)
        return
    doc["tags"] = _tags_text(instance.tags)
    table(None, ["FIELD", "VALUE"], [[k, v] for k, v in doc.items()])


# -- stop and start ------------------------------------------------------------


def _act(
    action: Action,
    ids: list[str],
    *,
    provider: str,
    hibernate: bool,
    dry_run: bool,
    wait: bool,
    json_: bool,
    option: list[str] | None,
    config: str | None,
    timeout: float | None,
    lock_timeout: float | None,
    agent: str | None,
) -> None:
    from snoozebot.cli import instance_calls as calls

    ids = _check_ids(ids)
    verb = "Stopping" if action == "stop" else "Starting"
    with open_runtime_for(
        agent, config=config, options=option, timeout=timeout, lock_timeout=lock_timeout
    ) as rt:
        with progress(f"{verb} {len(ids)} instance(s)", len(ids), enabled=len(ids) > 1) as bar:
            results = rt.backend.act(
                provider, action, ids, hibernate=hibernate, dry_run=dry_run,
                on_done=bar.advance if bar.visible else None,
            )
        if wait and not dry_run:
            target = "stopped" if action == "stop" else "running"
            waiting = sum(r.ok for r in results)
            with progress(f"Waiting until {target}", waiting) as bar:
                results = calls.wait_results(
                    rt, results, hibernate=hibernate, action=action, on_done=bar.advance
                )
    _report(action, results, dry_run=dry_run, json_=json_)


def _problem(result: ActionResult) -> str:
    return result.failure.message if result.failure is not None else ""


def _report(action: Action, results: list[ActionResult], *, dry_run: bool, json_: bool) -> None:
    failed = [r for r in results if not r.ok]
    if json_:
        emit_json([r.to_dict() for r in results])
    elif dry_run:
        rows = [[r.id, r.state, f"would {action}" if r.ok else "", _problem(r)] for r in results]
        table(None, ["ID", "STATE NOW", "ACTION", "PROBLEM"], rows)
        info("Dry run: nothing was changed.")
    else:
        rows = [[r.id, r.state, "ok" if r.ok else "failed", _problem(r)] for r in results]
        table(None, ["ID", "STATE", "RESULT", "ERROR"], rows)
    if failed:
        raise OperationFailed(f"{len(failed)} of {len(results)} instance(s) failed to {action}")


@app.command("stop")
def stop(  # noqa: PLR0917 - Typer passes options by keyword
    ids: IdsArg,
    provider: ProviderOpt,
    hibernate: Annotated[
        bool, typer.Option("--hibernate", help="Hibernate (keep memory) where the cloud supports it.")
    ] = False,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    lock_timeout: LockTimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Stop one or more instances; stopping a stopped instance succeeds.

    Every attempt is recorded in the audit log (see `snoozebot history`).
    Exit 1 when any instance failed; the others are still stopped.

    Example: snoozebot instance stop i-0123456789abcdef0 i-0fedcba9876543210 -p aws --wait
    """
    _act(
        "stop",
        ids,
        provider=provider,
        hibernate=hibernate,
        dry_run=dry_run,
        wait=wait,
        json_=json_,
        option=option,
        config=config,
        timeout=timeout,
        lock_timeout=lock_timeout,
        agent=agent,
    )


@app.command("start")
def start(  # noqa: PLR0917 - Typer passes options by keyword
    ids: IdsArg,
    provider: ProviderOpt,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    lock_timeout: LockTimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Start (or resume) one or more instances; starting a running instance succeeds.

    Every attempt is recorded in the audit log (see `snoozebot history`).
    Exit 1 when any instance failed; the others are still started.

    Example: snoozebot instance start i-0123456789abcdef0 -p aws --wait --timeout 300
    """
    _act(
        "start",
        ids,
        provider=provider,
        hibernate=False,
        dry_run=dry_run,
        wait=wait,
        json_=json_,
        option=option,
        config=config,
        timeout=timeout,
        lock_timeout=lock_timeout,
        agent=agent,
    )


# -- snooze --------------------------------------------------------------------


@app.command("snooze")
def snooze(
    ids: IdsArg,
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
    store, audit = OverrideStore.in_directory(directory), AuditLog.in_directory(directory)
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

"""``snoozebot schedule``: run the schedules (cron), show a schedule, explain one instance."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Annotated, Any

import typer

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
    provider_names,
)
from snoozebot.cli.output import emit_json, error, info, table
from snoozebot.config import Config, load_config, parse_options
from snoozebot.errors import OperationFailed, UsageError, exit_code_for
from snoozebot.local import LocalBackend
from snoozebot.notify import NotifySettings, load_notify_settings, notify_run, outcome_notices
from snoozebot.notify.warnings import warning_notices
from snoozebot.operations import default_actor
from snoozebot.overrides import OverrideRow, OverrideStore
from snoozebot.runtime import Runtime, open_runtime
from snoozebot.schedule import (
    ORDER_TAG,
    SCHEDULE_TAG,
    SNOOZE_TAG,
    ActivityReport,
    ActivityStore,
    Boundary,
    DeferralRecord,
    Row,
    RunRecord,
    RunReport,
    Schedule,
    decide,
    load_schedules,
    next_boundaries,
    run_all,
    window_start,
)
from snoozebot.schedule.boundaries import next_skipped_dates
from snoozebot.schedule.runner import Place
from snoozebot.state import state_dir

__all__ = ["app"]

app = typer.Typer(
    help="Scheduled snoozing: stop and start tagged instances on named schedules (made for cron).",
    no_args_is_help=True,
)

NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="ISO8601",
        help="Pretend it is this time (with an offset or Z), e.g. 2026-11-23T19:05:00+01:00.",
    ),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")]


def _parse_now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now: not an ISO 8601 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        raise UsageError(f"--now must carry an offset or Z, e.g. {value}Z or {value}+01:00")
    return parsed.astimezone(dt.UTC)


def _schedules(config: Config) -> dict[str, Schedule]:
    return load_schedules(
        config.table("schedules"),
        source=str(config.path or "config"),
        calendars=config.table("calendars"),
        base=config.path.parent if config.path else None,
    )


def _notify_settings(config: Config) -> NotifySettings:
    return load_notify_settings(config.table("notify"), where=f"{config.path or 'config'}: [notify]")


def _boundary_dict(boundary: Boundary, schedule: Schedule) -> dict[str, str]:
    return {"action": boundary.action, "at": boundary.local(schedule.timezone).isoformat()}


def _outcome(row: Row) -> tuple[str, str]:
    """The RESULT and WHY columns: ``ok`` and the reason, or ``failed`` and the error."""
    if row.ok or row.error is None:
        return "ok", row.reason
    return "failed", str(row.error["message"])


def _print_report(report: RunReport, *, as_json: bool, dry_run: bool) -> None:
    if as_json:
        scopes_failed = [f.to_dict() for f in report.failures if f.where is not None]
        emit_json([*(row.to_dict() for row in report.rows), *scopes_failed])
    elif report.rows:
        fleet = any(r.target is not None for r in report.rows)
        columns = ["TARGET", "SCOPE"] if fleet else []
        rows = [
            [*([r.target, ", ".join(f"{k}={v}" for k, v in r.scope.items())] if fleet else []),
             r.id, r.provider, r.schedule or "", r.action, *_outcome(r)]
            for r in report.rows
        ]
        title = "Dry run: nothing was changed" if dry_run else None
        table(title, [*columns, "ID", "PROVIDER", "SCHEDULE", "ACTION", "RESULT", "WHY"], rows)
    else:
        info(f"No instance carries the {SCHEDULE_TAG} tag.")
    for failure in report.failures:
        where = failure.where.describe() if failure.where is not None else failure.provider
        error(f"{where}: {failure.error}")


@app.command("run")
def run(
    *,
    provider: Annotated[
        list[str] | None,
        typer.Option(
            "--provider",
            "-p",
            metavar="PROVIDER",
            help="Repeatable. Default: every loaded one.",
            callback=provider_names,
        ),
    ] = None,
    target: TargetsOpt = None,
    scope: ScopeOpt = None,
    concurrency: ConcurrencyOpt = 16,
    dry_run: DryRunOpt = False,
    json_: JsonOpt = False,
    now: NowOpt = None,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    lock_timeout: LockTimeoutOpt = None,
) -> None:
    """Apply every schedule boundary that passed since the previous run.

    Each instance tagged snoozebot-schedule=NAME is stopped at a stop
    boundary (if running) and started at a start boundary (if stopped),
    once per boundary: a missed run catches up, a machine started by hand is
    left alone until the next boundary. Tiers of snoozebot-order=N start
    lowest first, each waited for (at most --timeout) before the next, and
    stop highest first. Exit 1 when any action failed.

    With fleet targets (-t, or every [targets.NAME] when no -p/-t is given)
    each scope keeps its own previous run, and a target's order tiers span
    all its scopes.

    Example (crontab): */10 * * * * snoozebot schedule run --json >> ~/snoozebot.log
    """
    from snoozebot.fleet import choose_scopes

    moment = _parse_now(now)
    with open_runtime(config=config, options=option, timeout=timeout, lock_timeout=lock_timeout) as rt:
        schedules = _schedules(rt.config)
        notify = _notify_settings(rt.config)
        scopes = choose_scopes(
            rt.config,
            providers=provider or [],
            targets=target or [],
            filters=parse_options(scope or []),
            overrides=parse_options(option or []),
            default_providers=rt.backend.loaded_names,
            expander=rt.backend.expand_options,
        )
        if not scopes:
            raise UsageError("no provider is loaded: pass -p PROVIDER, or run `snoozebot plugins load NAME`")
        for name in dict.fromkeys(s.provider for s in scopes):
            rt.backend.manager.find(name)
        record = RunRecord(rt.state_directory, rt.backend.context.audit.store)
        places = [
            Place(rt.backend.provider(s.provider, scope=s), s if s.target is not None else None)
            for s in scopes
        ]
        names = [p.key for p in places]
        store = OverrideStore.in_directory(rt.state_directory, store=rt.backend.context.audit.store)
        lock = contextlib.nullcontext() if dry_run else record.locked(timeout=rt.backend.context.lock_timeout)
        with lock:
            moment = moment if now else _parse_now(None)  # the clock once a previous run let go
            report = run_all(
                places,
                rt.backend.context,
                schedules,
                record,
                now=moment,
                dry_run=dry_run,
                actor=default_actor(),
                wait_timeout=rt.timeout,
                activity=ActivityStore.in_directory(rt.state_directory, store=store.store),
                deferrals=DeferralRecord(rt.state_directory),
                concurrency=concurrency,
                overrides=store.for_instances(moment),
            )
    _print_report(report, as_json=json_, dry_run=dry_run)
    if not dry_run:
        _warn_if_ahead(record, names)
        warnings = warning_notices(notify, report.listed, schedules, store, now=moment)
        notify_run(notify, [*warnings, *outcome_notices(notify, report.rows, report.failures)], report=info)
    if report.failures:
        fleet = any(f.where is not None for f in report.failures)  # a fleet scope fails alone: exit 1
        raise typer.Exit(1 if fleet else max(exit_code_for(f.error) for f in report.failures))
    if not report.ok:
        raise typer.Exit(OperationFailed.exit_code)


_CLOCK_SLACK = dt.timedelta(minutes=1)


def _warn_if_ahead(record: RunRecord, providers: list[str]) -> None:
    """One stderr line when a previous-run record lies ahead of the clock (a real run with --now)."""
    clock = dt.datetime.now(dt.UTC) + _CLOCK_SLACK
    ahead = {name: when for name, when in record.ahead_of(clock).items() if name in providers}
    if ahead:
        names = ", ".join(sorted(ahead))
        until = max(ahead.values()).isoformat()
        flags = " ".join(f"-p {n}" for n in sorted(ahead))
        info(
            f"warning: the previous run of {names} is now recorded at {until}, ahead of the clock: "
            f"boundaries before then will not be acted on; undo with: snoozebot schedule reset {flags}"
        )


@app.command("reset")
def reset(
    *,
    provider: Annotated[
        list[str] | None,
        typer.Option(
            "--provider",
            "-p",
            metavar="PROVIDER",
            help="Repeatable. Default: every provider with a record.",
            callback=provider_names,
        ),
    ] = None,
    lock_timeout: LockTimeoutOpt = None,
) -> None:
    """Forget the previous-run records, so the next run looks back one hour again.

    Use it after a rehearsal with --now that moved a record into the future.
    Each forgotten record is written to the audit log (action reset).

    Example: snoozebot schedule reset -p aws
    """
    from snoozebot.audit import AuditLog
    from snoozebot.runtime import resolve_lock_timeout
    directory = state_dir()
    record = RunRecord(directory)
    with record.locked(timeout=resolve_lock_timeout(lock_timeout)):
        names = list(dict.fromkeys(provider or record.providers()))
        gone = record.forget(names)
    audit = AuditLog.in_directory(directory)
    for name in gone:
        audit.note(actor=default_actor(), source="schedule", provider=name, action="reset")
    info(f"Forgot the previous run of {', '.join(gone)}." if gone else "No previous-run record to forget.")


@app.command("show")
def show(
    *,
    name: Annotated[str, typer.Argument(help="Schedule name, as in \\[schedules.NAME].")],
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=100, help="How many boundaries.")] = 6,
    now: NowOpt = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show the next start and stop times of a schedule, in the schedule's time zone.

    Also lists the next skipped dates (skip_dates and calendars), whose
    start boundaries do not happen.

    Example: snoozebot schedule show office-hours --count 4
    """
    from snoozebot.store import open_store

    moment = _parse_now(now)
    cfg = load_config(config)
    schedules = _schedules(cfg)
    schedule = schedules.get(name)
    if schedule is None:
        known = ", ".join(sorted(schedules)) or "none configured"
        raise UsageError(f"unknown schedule {name!r} (known: {known})")
    upcoming = next_boundaries(schedule, moment, count=count)
    skipped = next_skipped_dates(schedule, moment, count=count)
    directory = state_dir()
    store = open_store(directory, cfg)
    overrides = OverrideStore.in_directory(directory, store=store).rows(moment)
    for provider, when in sorted(RunRecord(directory, store).ahead_of(dt.datetime.now(dt.UTC)).items()):
        info(f"warning: {_ahead_text(provider, when.isoformat())}")
    if json_:
        emit_json(
            {
                "name": name,
                "timezone": schedule.timezone.key,
                "now": moment.astimezone(schedule.timezone).isoformat(),
                "next": [_boundary_dict(b, schedule) for b in upcoming],
                "skipped": [{"date": day.isoformat(), "from": sources} for day, sources in skipped],
                "overrides": [o.to_dict() for o in overrides],
            }
        )
        return
    rows = [[b.local(schedule.timezone).strftime("%a %Y-%m-%d %H:%M %Z"), b.action] for b in upcoming]
    table(f"{name} ({schedule.timezone.key})", ["WHEN", "ACTION"], rows)
    if skipped:
        days = [[day.strftime("%a %Y-%m-%d"), ", ".join(sources)] for day, sources in skipped]
        table("Skipped dates (no start boundary)", ["DATE", "FROM"], days)
    _print_overrides(overrides, schedule)


def _print_overrides(overrides: list[OverrideRow], schedule: Schedule | None) -> None:
    """The overrides table (docs/schedules.md, "Overrides"); nothing when there are none."""
    if overrides:
        zone = schedule.timezone if schedule else dt.UTC
        rows = [[o.instance, o.provider, o.kind, o.describe(zone)] for o in overrides]
        table("Overrides", ["ID", "PROVIDER", "KIND", "WHAT"], rows)


def _seconds(span: dt.timedelta | None) -> int | None:
    return int(span.total_seconds()) if span is not None else None


def _explain(
    rt: Runtime[LocalBackend], instance_id: str, provider: str, moment: dt.datetime
) -> tuple[dict[str, Any], list[str]]:
    """The ``--json`` document, and the instance's overrides in words."""
    schedules = _schedules(rt.config)
    rt.backend.manager.find(provider)
    instance = rt.backend.provider(provider).get_instance_info(instance_id)
    shared = rt.backend.context.audit.store
    previous = RunRecord(rt.state_directory, shared).previous(provider)
    after = window_start(previous, moment)
    ahead = previous is not None and previous > moment
    upcoming_from = previous if previous is not None and ahead else moment
    activity = ActivityStore.in_directory(rt.state_directory, store=shared)
    report = activity.for_provider(provider).get(instance.id)
    owed = DeferralRecord(rt.state_directory).for_provider(provider).get(instance.id)
    store = OverrideStore.in_directory(rt.state_directory, store=shared)
    found = store.for_instances(moment).get((provider, instance.id))
    decision = decide(
        instance, schedules, after=after, now=moment, activity=report, deferred=owed, overrides=found
    )
    overrides = [o for o in store.rows(moment) if (o.provider, o.instance) == (provider, instance.id)]
    schedule = schedules.get(decision.schedule or "")
    zone = schedule.timezone if schedule else dt.UTC
    doc = {
        "id": instance.id,
        "provider": provider,
        "state": instance.state.value,
        "schedule": decision.schedule,
        "snooze_until": instance.tags.get(SNOOZE_TAG),
        "order": instance.tags.get(ORDER_TAG),
        "unless_busy_seconds": _seconds(schedule.unless_busy) if schedule else None,
        "activity": report.to_dict() if report else None,
        "deferred_since": owed.astimezone(zone).isoformat() if owed else None,
        "action": decision.action,
        "ok": decision.ok,
        "reason": decision.reason,
        "error": decision.error(),
        "previous_run": previous.astimezone(zone).isoformat() if previous else None,
        "window": {"after": after.astimezone(zone).isoformat(), "until": moment.astimezone(zone).isoformat()},
        "boundary": _boundary_dict(decision.boundary, schedule) if decision.boundary and schedule else None,
        "next": [_boundary_dict(b, schedule) for b in next_boundaries(schedule, upcoming_from, count=2)]
        if schedule
        else [],
        "record_ahead": ahead,
        "overrides": [o.to_dict() for o in overrides],
    }
    return doc, [o.describe(zone) for o in overrides]


@app.command("explain")
def explain(
    *,
    instance_id: Annotated[str, typer.Argument(metavar="ID", help="Instance id.")],
    provider: ProviderOpt,
    now: NowOpt = None,
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Explain why `schedule run` would or would not act on this instance now.

    Reads the instance's tags and state, its schedule, and the window since
    this provider's previous run; changes nothing.

    Example: snoozebot schedule explain i-0abc123 -p aws
    """
    moment = _parse_now(now)
    with open_runtime(config=config, options=option, timeout=timeout) as rt:
        doc, notes = _explain(rt, instance_id, provider, moment)
    if json_:
        emit_json(doc)
        return
    report = ActivityReport.from_dict(doc["activity"])
    activity = report.describe(moment) if report else "no report"
    rows = [
        ["instance", f"{doc['id']} ({doc['provider']}), {doc['state']}"],
        ["schedule", doc["schedule"] or "-"],
        ["snooze until", doc["snooze_until"] or "-"],
        ["order", doc["order"] or "0"],
        ["activity", activity],
        ["window", f"{doc['window']['after']} .. {doc['window']['until']}"],
        ["action", doc["action"]],
        ["why", doc["reason"]],
        *(["next", f"{b['action']} at {b['at']}"] for b in doc["next"]),
        *(["override", line] for line in notes),
    ]
    if doc["record_ahead"]:
        rows.append(["warning", _ahead_text(doc["provider"], doc["previous_run"])])
    table(None, ["", ""], rows)


def _ahead_text(provider: str, when: str) -> str:
    return (
        f"the previous run of {provider} is recorded at {when}, after now: boundaries until then "
        f"are not acted on (undo: snoozebot schedule reset -p {provider})"
    )

"""``snoozebot idle check``: stop this machine when nobody has used it for the nap time."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from snoozebot import sdk
from snoozebot.cli.options import ConfigOpt, JsonOpt, LockTimeoutOpt, OptionOpt, TimeoutOpt
from snoozebot.cli.output import emit_json, error, info
from snoozebot.config import Config, load_config, parse_options
from snoozebot.errors import OperationFailed
from snoozebot.idle import (
    STOPPABLE,
    CheckResult,
    IdleTracker,
    StopOutcome,
    SystemSampler,
    identify,
    parse_naptime,
    resolve_settings,
    run_check,
)
from snoozebot.idle.check import StopWarning
from snoozebot.local import LocalBackend
from snoozebot.runtime import Runtime, open_runtime, resolve_lock_timeout, resolve_timeout
from snoozebot.state import exclusive_lock, state_dir

__all__ = ["app"]

app = typer.Typer(
    help="Idle detection on the instance itself: stop it when unused (made for cron).",
    no_args_is_help=True,
)


ProviderArg = Annotated[
    str | None,
    typer.Option(
        "--provider", "-p", metavar="PROVIDER", help="Who identifies this machine. Default: any that can."
    ),
]
NaptimeArg = Annotated[
    str | None,
    typer.Option(
        metavar="DURATION", help="Idle this long before stopping: 30m, 2h, 90s; minutes. Default 30m."
    ),
]
CpuArg = Annotated[
    float | None, typer.Option(metavar="PCT", min=0, help="Highest idle CPU % (all cores). Default 10.")
]
NetworkArg = Annotated[
    float | None, typer.Option(metavar="KBPS", min=0, help="Highest idle network kB/s. Default 50.")
]
DiskArg = Annotated[
    float | None, typer.Option(metavar="KBPS", min=0, help="Highest idle disk kB/s. Default 100.")
]
GpuArg = Annotated[
    float | None, typer.Option(metavar="PCT", min=0, help="Highest idle GPU % (busiest). Default 5.")
]
SessionsArg = Annotated[bool, typer.Option("--ignore-sessions", help="Logged-in users do not keep it awake.")]
HibernateArg = Annotated[bool, typer.Option("--hibernate", help="Hibernate (suspend) instead of stopping.")]
DryRunArg = Annotated[bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")]
ReportArg = Annotated[
    bool, typer.Option("--report", help="Send the verdict and readings to the agent (else the state store).")
]
AgentArg = Annotated[
    str | None,
    typer.Option("--agent", metavar="URL", help="Agent for --report. Default: $SNOOZEBOT_AGENT_URL."),
]
WarnBeforeArg = Annotated[
    str | None,
    typer.Option(
        "--warn-before",
        metavar="DURATION",
        help="Send a [notify] warning this long before the stop (10m, 90s), with postpone links.",
    ),
]


def _boot_time() -> dt.datetime:
    import psutil

    return dt.datetime.fromtimestamp(psutil.boot_time(), dt.UTC)


class _StopThisInstance:
    """Find this machine through its provider's ``identify_self`` and stop it through that provider."""

    def __init__(
        self,
        *,
        provider: str | None,
        hibernate: bool,
        options: list[str],
        config: str | None,
        timeout: float | None,
        lock_timeout: float | None = None,
    ) -> None:
        self.provider, self.hibernate = provider, hibernate
        self.options, self.config, self.timeout = options, config, timeout
        self.lock_timeout = lock_timeout
        self._me: sdk.Identity | None = None

    def identity(self) -> sdk.Identity:
        """This machine's identity, asked once (for warnings before the stop)."""
        if self._me is None:
            with self._runtime(self.options) as rt:
                self._me = identify(rt.backend.manager, self.provider)
        return self._me

    def __call__(self, *, dry_run: bool) -> StopOutcome:
        with self._runtime(self.options) as rt:
            me = identify(rt.backend.manager, self.provider)
            options = [*(f"{k}={v}" for k, v in me.options.items()), *self.options]
            wanted = rt.config.provider_options(me.provider, parse_options(options))
            if wanted == rt.config.provider_options(me.provider, parse_options(self.options)):
                return self._stop(rt, me, dry_run=dry_run)
        # The identity supplies options (a region, a project): the provider's worker needs them.
        with self._runtime(options) as rt:
            return self._stop(rt, me, dry_run=dry_run)

    def whoami(self) -> sdk.Identity:
        """This machine's identity, found as a stop would find it (for ``--report``)."""
        with self._runtime(self.options) as rt:
            return identify(rt.backend.manager, self.provider)

    def _runtime(self, options: list[str]) -> contextlib.AbstractContextManager[Runtime[LocalBackend]]:
        return open_runtime(
            config=self.config, options=options, timeout=self.timeout, lock_timeout=self.lock_timeout
        )

    def _stop(self, rt: Runtime[LocalBackend], me: sdk.Identity, *, dry_run: bool) -> StopOutcome:
        from snoozebot.operations import default_actor, run_action

        client = rt.backend.provider(me.provider)
        instance = client.get_instance_info(me.instance_id)
        if instance.state not in STOPPABLE or _snoozed(rt, me):
            return StopOutcome("none", instance)
        if dry_run:
            return StopOutcome("would-stop", instance)
        [result] = run_action(
            client,
            rt.backend.context,
            action="stop",
            instance_ids=[me.instance_id],
            hibernate=self.hibernate,
            actor=default_actor(),
            source="idle",
        )
        if result.failure is not None:
            problem = f"stopping {me.instance_id} failed: {result.failure.message}"
            return StopOutcome("stop", instance, problem)
        return StopOutcome("stop", result.instance or instance)


def _snoozed(rt: Runtime[LocalBackend], me: sdk.Identity) -> bool:
    """Whether ``instance snooze`` keeps this machine out of idle stops now (docs/schedules.md)."""
    from snoozebot.overrides import OverrideStore

    now = dt.datetime.now(dt.UTC)
    store = OverrideStore.in_directory(rt.state_directory, store=rt.backend.context.audit.store)
    overrides = store.for_instances(now)
    found = overrides.get((me.provider, me.instance_id))
    return found is not None and found.snoozed(now)


def _warning(cfg: Config, directory: Path, stop: _StopThisInstance, naptime: dt.timedelta) -> StopWarning:
    """Warnings before the idle stop through ``[notify]`` (docs/notifications.md)."""
    from snoozebot.notify import load_notify_settings
    from snoozebot.notify.idle import IdleWarning
    from snoozebot.overrides import OverrideStore
    from snoozebot.store import open_store

    settings = load_notify_settings(cfg.table("notify"), where=f"{cfg.path or 'config'}: [notify]")
    why = f"idle for the nap time ({int(naptime.total_seconds())} s)"
    store = OverrideStore.in_directory(directory, store=open_store(directory, cfg))
    return IdleWarning(settings, store, stop.identity, why=why, report=info)


def _print_text(result: CheckResult) -> None:
    for name, reading in result.readings.items():
        if reading is None:
            continue
        value = reading["error"] if reading["value"] is None else f"{reading['value']:g} {reading['unit']}"
        limit = "ignored" if reading["threshold"] is None else f"<= {reading['threshold']:g}"
        info(f"{name:<9} {value:<24} {limit:<10} {'idle' if reading['idle'] else 'busy'}")
    since = result.idle_since.isoformat(timespec="seconds") if result.idle_since else "-"
    target = f" {result.instance.id} ({result.instance.provider})" if result.instance else ""
    verdict = "yes" if result.idle else "no"
    typer.echo(f"idle: {verdict}; idle since: {since}; action: {result.action}{target}")


def _report(
    result: CheckResult, stop: _StopThisInstance, cfg: Config, *, agent: str | None, dry_run: bool
) -> None:
    """``--report``: send the check's verdict and readings (docs/schedules.md#busy-aware-stops)."""
    if dry_run:
        info("dry run: activity not reported")
        return
    from snoozebot.schedule.report import send_report

    me = stop.whoami()
    where = send_report(
        provider=me.provider,
        instance_id=me.instance_id,
        idle=result.idle,
        idle_since=result.idle_since,
        readings=result.readings,
        agent=agent,
        timeout=resolve_timeout(stop.timeout),
        config=cfg,
    )
    info(f"activity of {me.instance_id} ({me.provider}) reported to {where}")


@app.command("check")
def check(
    *,
    provider: ProviderArg = None,
    naptime: NaptimeArg = None,
    cpu: CpuArg = None,
    network: NetworkArg = None,
    disk: DiskArg = None,
    gpu: GpuArg = None,
    ignore_sessions: SessionsArg = False,
    hibernate: HibernateArg = False,
    dry_run: DryRunArg = False,
    report: ReportArg = False,
    agent: AgentArg = None,
    warn_before: WarnBeforeArg = None,
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    lock_timeout: LockTimeoutOpt = None,
) -> None:
    """Sample this machine for a second; stop it when idle for the nap time.

    Idle means CPU, network, disk (and GPU) at or under their thresholds and
    nobody logged in. A reading that fails counts as busy. The time since
    when the machine is idle is kept in the state directory. With --report,
    the verdict also goes to the agent (token: $SNOOZEBOT_TOKEN), for
    schedules with unless_busy.

    Example (crontab): */5 * * * * snoozebot idle check --naptime 45m --json >> ~/idle.log
    """
    cfg = load_config(config)
    settings = resolve_settings(
        cfg.table("idle"),
        where=f"{cfg.path or 'config'}: [idle]",
        naptime=naptime,
        thresholds={"cpu": cpu, "network": network, "disk": disk, "gpu": gpu},
        ignore_sessions=ignore_sessions,
    )
    stop = _StopThisInstance(
        provider=provider,
        hibernate=hibernate,
        options=list(option or []),
        config=config,
        timeout=timeout,
        lock_timeout=lock_timeout,
    )
    directory = state_dir()
    lead = parse_naptime(warn_before) if warn_before is not None else None
    warning = _warning(cfg, directory, stop, settings.naptime) if lead is not None else None
    tracker = IdleTracker(directory)
    lock = (
        contextlib.nullcontext()
        if dry_run
        else exclusive_lock(tracker.lock_path, timeout=resolve_lock_timeout(lock_timeout), what="idle checks")
    )
    with lock:
        result = run_check(
            SystemSampler(),
            settings,
            tracker,
            stop,
            clock=lambda: dt.datetime.now(dt.UTC),
            boot_time=_boot_time(),
            dry_run=dry_run,
            warn_before=lead,
            warning=warning,
        )
    if json_:
        emit_json(result.to_dict())
    else:
        _print_text(result)
    if report:
        _report(result, stop, cfg, agent=agent, dry_run=dry_run)
    if not result.ok:
        error(str(result.error))
        raise typer.Exit(OperationFailed.exit_code)

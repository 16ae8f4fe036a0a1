"""``snoozebot savings``: what snoozing saved, in hours and money (docs/savings.md)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from snoozebot.cli.options import ConfigOpt, JsonOpt, TimeoutOpt
from snoozebot.cli.output import emit_json, table
from snoozebot.errors import PluginNotFound, UsageError
from snoozebot.text import one_line

if TYPE_CHECKING:
    from snoozebot.host.client import ProviderClient
    from snoozebot.local import LocalBackend
    from snoozebot.savings.report import Report

__all__ = ["savings"]

COMPUTE_ONLY = (
    "Counts compute only: disks, addresses and snapshots keep billing while an instance is stopped."
)
_NAMED = 10
"""Unpriced instances named on a terminal; --json lists every one."""
_KEY_TITLES = {"instance": "INSTANCE", "provider": "PROVIDER", "target": "TARGET", "day": "DAY (UTC)"}


def savings(  # noqa: PLR0917 - Typer passes options by keyword
    since: Annotated[
        str | None,
        typer.Option(metavar="30d|DATE", help="Start: 30d, 12h, 2w before --until, or a date. Default 30d."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="DATE", help="End (exclusive): a date or date-time. Default now.")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            metavar="instance|provider|target|day|tag:KEY", help="One row per this. Default: instance."
        ),
    ] = "instance",
    json_: JsonOpt = False,
    csv_: Annotated[bool, typer.Option("--csv", help="Print CSV: key,hours,amount,instances.")] = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Show what snoozing saved: hours stopped by snoozebot, and their on-demand price.

    A snooze starts at a successful stop by snoozebot (CLI, schedule, idle
    check, agent, UI) and ends at its next start by snoozebot, or at the first
    listing that sees the instance running again. Prices: [prices] in the
    config, then the provider's price lookup, then its shipped table; USD.

    Example: snoozebot savings --since 2026-11-01 --by provider
    """
    from snoozebot.runtime import open_runtime
    from snoozebot.savings.lookup import worker_lookup
    from snoozebot.savings.price_cache import CachedLookup
    from snoozebot.savings.prices import PriceBook, config_overrides
    from snoozebot.savings.report import Window, build_report, parse_by
    from snoozebot.savings.store import StateJournalStore
    from snoozebot.store import open_store

    if json_ and csv_:
        raise UsageError("--json and --csv exclude each other: choose one")
    now = dt.datetime.now(dt.UTC)
    window = Window.parse(since, until, now=now)
    grouping = parse_by(by)
    with open_runtime(config=config, options=None, timeout=timeout) as rt:  # workers start only to look up
        overrides = config_overrides(rt.config)
        lookup = CachedLookup(rt.state_directory, worker_lookup(lambda name: _installed(rt.backend, name)))
        report = build_report(
            StateJournalStore(open_store(rt.state_directory, rt.config)),
            window,
            by=grouping,
            prices=PriceBook(overrides, lookup),
            now=now.timestamp(),
        )
    if json_:
        emit_json(report.to_dict())
    elif csv_:
        sys.stdout.write(report.to_csv())
        sys.stdout.flush()
    else:
        _show(report)


def _installed(backend: LocalBackend, name: str) -> ProviderClient | None:
    """The provider's client when it is installed (loaded or not), else None: nothing to ask."""
    try:
        return backend.provider(name)
    except PluginNotFound:
        return None


def _money(amount: float | None) -> str:
    return "-" if amount is None else f"{amount:,.2f}"


def _show(report: Report) -> None:
    title = _KEY_TITLES.get(report.by) or f"TAG {report.by.removeprefix('tag:')}"
    rows = [[r.key if r.key is not None else "(none)", f"{r.hours:,.2f}", _money(r.amount), r.instances]
            for r in report.rows]
    rows.append(["TOTAL", f"{report.hours:,.2f}", _money(report.amount), ""])
    since, until = (w.isoformat(timespec="minutes") for w in (report.window.since, report.window.until))
    table(f"Snoozed {since} to {until}", [title, "HOURS", "USD", "INSTANCES"], rows)
    lines = [COMPUTE_ONLY]
    for use in report.prices:
        what = " ".join(x for x in (use.provider, use.instance_type or "(any type)", use.region or "") if x)
        count = f"{use.instances} instance{'s' if use.instances != 1 else ''}"
        lines.append(f"Priced {what} at {use.price.usd_per_hour:g} USD/h from {use.price.detail} ({count}).")
    if report.unpriced:
        named = ", ".join(report.unpriced[:_NAMED])
        left = len(report.unpriced) - _NAMED
        more = f" and {left} more (--json lists them all)" if left > 0 else ""
        lines.append(f"Unpriced (hours counted, no amount): {named}{more}; set [prices] to price them.")
    sys.stdout.write("\n".join(one_line(line) for line in lines) + "\n")
    sys.stdout.flush()

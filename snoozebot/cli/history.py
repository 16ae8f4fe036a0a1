"""``snoozebot history``: the audit log of start and stop attempts."""

from __future__ import annotations

from typing import Annotated

import typer

from snoozebot.cli.options import JsonOpt
from snoozebot.cli.output import emit_json, info, table
from snoozebot.state import state_dir

__all__ = ["history"]


def history(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show at most N attempts, newest first.")
    ] = 50,
    provider: Annotated[
        str | None,
        typer.Option("--provider", "-p", metavar="PROVIDER", help="Only this provider's attempts."),
    ] = None,
    instance: Annotated[
        str | None, typer.Option("--instance", metavar="ID", help="Only this instance.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", "-t", metavar="NAME", help="Only this fleet target's attempts.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Show the audit log: every start and stop attempt, newest first.

    Each attempt is written before the call (result "pending") and completed
    after it, so a run that was killed still shows what it tried. HOST is
    the machine that made it (several share one PostgreSQL database).

    Example: snoozebot history --limit 20 --json
    """
    from snoozebot.audit import AuditLog  # the store only for this command

    entries = AuditLog.in_directory(state_dir()).entries(
        limit=limit, provider=provider, instance=instance, target=target
    )
    if json_:
        emit_json([e.to_dict() for e in entries])
        return
    if not entries:
        info("No start or stop attempts recorded yet.")
        return
    fleet = any(e.target for e in entries)
    rows = [
        [
            e.time[:19].replace("T", " "),
            e.host or "",
            e.actor,
            e.source,
            e.provider,
            e.instance,
            f"{e.action} (dry run)" if e.dry_run else e.action,
            e.result,
            e.state,
            e.error_message or "",
            *([e.target or "", ", ".join(f"{k}={v}" for k, v in e.scope_labels().items())] if fleet else []),
        ]
        for e in entries
    ]
    columns = ["TIME (UTC)", "HOST", "ACTOR", "SOURCE", "PROVIDER", "INSTANCE", "ACTION", "RESULT", "STATE"]
    columns.append("ERROR")
    columns += ["TARGET", "SCOPE"] if fleet else []
    table(None, columns, rows)

"""``snoozebot agent``: serve the REST API, and manage its tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from snoozebot.cli.options import ConfigOpt, JsonOpt, TimeoutOpt
from snoozebot.cli.output import emit_json, info, table
from snoozebot.runtime import resolve_timeout

__all__ = ["AgentOpt", "app"]

AgentOpt = Annotated[
    str | None,
    typer.Option(
        "--agent",
        metavar="URL",
        help="Go through the agent at URL (token in $SNOOZEBOT_TOKEN). Default: $SNOOZEBOT_AGENT_URL.",
    ),
]


app = typer.Typer(
    help="The long-running agent: plugins and instances over a REST API with tokens.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="Bearer tokens of the agent (only salted hashes are stored).", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@app.command("serve")
def serve(
    *,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port; 0 picks a free one.")
    ] = 8080,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    threads: Annotated[
        int, typer.Option("--threads", min=1, max=1024, help="Plugin calls that may run at once.")
    ] = 64,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request on stderr.")] = False,
    schedule_every: Annotated[
        str | None,
        typer.Option(
            "--schedule-every",
            metavar="DURATION",
            help="Run `schedule run` every DURATION (90s, 5m; at least 1s), the first at start-up;"
            " one agent of a shared database leads.",
        ),
    ] = None,
) -> None:
    """Serve the REST API until SIGINT or SIGTERM (workers are stopped first).

    Loads the persisted loaded set at start-up and keeps its workers warm.
    Every endpoint but /healthz needs a token: create one first.

    Example: snoozebot agent token create --role admin --name me && snoozebot agent serve --port 8080
    """
    from snoozebot.agent.leader import parse_every
    from snoozebot.agent.serve import ServeOptions
    from snoozebot.agent.serve import serve as run_server
    from snoozebot.config import load_config
    from snoozebot.state import state_dir

    options = ServeOptions(
        host=host,
        port=port,
        timeout=resolve_timeout(timeout),
        threads=threads,
        access_log=access_log,
        schedule_every=parse_every(schedule_every) if schedule_every is not None else None,
    )
    run_server(options, config=load_config(config), state_directory=state_dir())


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="viewer, operator, admin or reporter.", metavar="ROLE")],
    name: Annotated[str, typer.Option("--name", help="Who uses it; the audit log's actor.", metavar="NAME")],
) -> None:
    """Create a token and print it alone on stdout; it is never shown again.

    viewer reads; operator also stops and starts instances; admin also loads
    and unloads plugins and manages tokens.

    Example: export SNOOZEBOT_TOKEN=$(snoozebot agent token create --role operator --name cron)
    """
    from snoozebot.agent.tokens import Role, TokenStore
    from snoozebot.errors import UsageError
    from snoozebot.state import state_dir

    try:
        parsed = Role(role)
    except ValueError:
        raise UsageError(f"unknown role {role!r}: use viewer, operator, admin or reporter") from None
    typer.echo(TokenStore(state_dir()).create(name=name, role=parsed))


@token_app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List tokens: name, role, creation time (never the tokens themselves).

    Example: snoozebot agent token list --json
    """
    from snoozebot.agent.tokens import TokenStore
    from snoozebot.state import state_dir

    records = [r.public() for r in TokenStore(state_dir()).list()]
    if json_:
        emit_json(records)
    elif not records:
        info("No tokens. Create one: snoozebot agent token create --role admin --name NAME")
    else:
        table(None, ["NAME", "ROLE", "CREATED"], [[r["name"], r["role"], r["created"]] for r in records])


@token_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name, as in `token list`.")]) -> None:
    """Revoke a token; a running agent refuses it from the next request on.

    Example: snoozebot agent token revoke cron
    """
    from snoozebot.agent.tokens import TokenStore
    from snoozebot.state import state_dir

    TokenStore(state_dir()).revoke(name)
    info(f"Revoked token {name}.")

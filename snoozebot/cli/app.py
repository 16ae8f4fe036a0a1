"""The root Typer application; each command group lives in its own module.

Groups are imported only when needed: a command line that names one group
command (``snoozebot plugins list``) imports just that group and builds just
that command, which keeps start-up close to a bare Typer app.
``snoozebot --help`` builds them all.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Sequence
from typing import Any, cast

import typer

from snoozebot import __version__
from snoozebot.cli.options import PlainHelpGroup

__all__ = ["COMMANDS", "GROUPS", "build_app"]

GROUPS: dict[str, str] = {
    "plugins": "snoozebot.cli.plugins:app",
    "instance": "snoozebot.cli.instance:app",
    "schedule": "snoozebot.cli.schedule:app",
    "idle": "snoozebot.cli.idle:app",
    "agent": "snoozebot.cli.agent:app",
    "db": "snoozebot.cli.db:app",
}
"""Sub-command groups: name -> "module:Typer app"."""

COMMANDS: dict[str, str] = {
    "history": "snoozebot.cli.history:history",
    "savings": "snoozebot.cli.savings:savings",
    "demo": "snoozebot.cli.demo:demo",
    "connect": "snoozebot.cli.connect:connect",
}
"""Top-level commands: name -> "module:function"."""


def _load(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _only(group: typer.Typer, command: str) -> typer.Typer:
    """A copy of ``group`` with just ``command`` (building every command costs start-up time).

    It buys 21 ms of ``plugins list`` (0.14x the one-command Typer app it is held
    to, benchmarks/bench_host.py, "list, whole group"); importing only the named
    group buys 76 ms more ("list, whole tree").

    Anything that is not one of its command names (``--help``, a typo) keeps the
    whole group, so help and "did you mean" work as usual.
    """
    commands = [c for c in group.registered_commands if c.name == command]
    groups = [g for g in group.registered_groups if g.name == command]
    if not (commands or groups):
        return group
    trimmed = copy.copy(group)
    trimmed.registered_commands = commands
    trimmed.registered_groups = groups
    return trimmed


def _version(value: bool) -> None:
    if value:
        typer.echo(f"snoozebot {__version__}")
        raise typer.Exit()


def build_app(argv: Sequence[str] = ()) -> typer.Typer:
    """Assemble the command tree (only the group ``argv`` names, when it names one)."""
    app = typer.Typer(
        name="snoozebot",
        help=(
            "Stop cloud machines nobody is using, and start them again when needed.\n\n"
            "Providers (aws, gcp, ...) are plugins, each run in its own worker process. "
            "Start with: snoozebot plugins list\n\n"
            "Common options go before or after the command: --config FILE, --json, "
            "--timeout SECONDS, --agent URL, -o/--option KEY=VALUE, --lock-timeout SECONDS "
            "(e.g. snoozebot --config prod.toml --json instance list)."
        ),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        cls=PlainHelpGroup,
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        """Stop cloud machines nobody is using."""

    wanted = argv[0] if argv and (argv[0] in GROUPS or argv[0] in COMMANDS) else None
    for name, target in GROUPS.items():
        if wanted in (None, name):
            group = _load(target)
            assert isinstance(group, typer.Typer)
            if wanted and len(argv) > 1:
                group = _only(group, argv[1])
            app.add_typer(group, name=name)
    for name, target in COMMANDS.items():
        if wanted in (None, name):
            app.command(name)(cast(Callable[..., Any], _load(target)))
    return app

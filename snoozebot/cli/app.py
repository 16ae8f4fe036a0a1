"""The root Typer application; each command group lives in its own module."""

from __future__ import annotations

import typer

from snoozebot import __version__

__all__ = ["build_app"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"snoozebot {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """Assemble the command tree."""
    from snoozebot.cli import agent, plugins  # noqa: PLC0415
    from snoozebot.cli import schedule as schedule_cli  # noqa: PLC0415
    from snoozebot.cli import demo, history, instance  # noqa: PLC0415

    app = typer.Typer(
        name="snoozebot",
        help=(
            "Stop cloud machines nobody is using, and start them again when needed.\n\n"
            "Providers (aws, gcp, ...) are plugins, each run in its own worker process. "
            "Start with: snoozebot plugins list"
        ),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        """Stop cloud machines nobody is using."""

    app.add_typer(plugins.app, name="plugins")
    app.add_typer(agent.app, name="agent")
    app.add_typer(schedule_cli.app, name="schedule")
    app.add_typer(instance.app, name="instance")
    app.command("history")(history.history)
    app.command("demo")(demo.demo)
    return app

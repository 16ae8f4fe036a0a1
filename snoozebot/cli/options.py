"""Option types shared by the command groups (DESIGN.md section 4)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["ConfigOpt", "JsonOpt", "LockTimeoutOpt", "OptionOpt", "ProviderOpt", "TimeoutOpt"]

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else there.")
]
OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        metavar="KEY=VALUE",
        help="Provider option, repeatable; overrides \\[providers.NAME] in the config file.",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Config file (TOML). Default: $SNOOZEBOT_CONFIG, else the user config dir.",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0.1,
        help="Per plugin call timeout. Default: $SNOOZEBOT_TIMEOUT, else 60.",
    ),
]
ProviderOpt = Annotated[
    str, typer.Option("--provider", "-p", metavar="PROVIDER", help="Provider name, e.g. aws or gcp.")
]
LockTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--lock-timeout",
        metavar="SECONDS",
        min=0,
        help="How long to wait for another run acting on the same instances. "
        "Default: $SNOOZEBOT_LOCK_TIMEOUT, else 60.",
    ),
]

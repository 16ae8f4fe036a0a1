"""Option types shared by the command groups (DESIGN.md section 4)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

__all__ = [
    "ConfigOpt",
    "JsonOpt",
    "LockTimeoutOpt",
    "OptionOpt",
    "ProviderOpt",
    "TimeoutOpt",
    "key_value_pairs",
    "provider_names",
]


def key_value_pairs(ctx: Any, param: Any, values: list[str] | None) -> list[str] | None:
    """Click callback: every value is KEY=VALUE (checked before click judges the other arguments,
    so ``-o region us-east-1`` is told how to write it, not that ``us-east-1`` is unexpected)."""
    from snoozebot.config import parse_options
    from snoozebot.errors import UsageError

    for value in values or []:
        try:
            parse_options([value])
        except UsageError:
            flag = param.opts[-1] if param is not None and param.opts else "option"
            hint = f"write {flag} {value}=VALUE"
            raise UsageError(f"{flag} expects KEY=VALUE, got {value!r} ({hint})") from None
    return values


def provider_names(ctx: Any, param: Any, value: Any) -> Any:
    """Click callback: a provider name is one name; several are given by repeating ``-p``."""
    from snoozebot.errors import UsageError

    for name in value if isinstance(value, list) else [value] if value else []:
        if "," in name or not name.strip():
            raise UsageError(f"{name!r} is not a provider name: give one per -p, e.g. -p aws -p gcp")
    return value

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
        callback=key_value_pairs,
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
    str,
    typer.Option(
        "--provider",
        "-p",
        metavar="PROVIDER",
        help="Provider name, e.g. aws or gcp.",
        callback=provider_names,
    ),
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

"""Option types shared by the command groups, and how their help rows look (docs/cli.md).

Typer 0.29 prints each parameter's Python type in the help tables: ``<bool>``
after every flag, ``<list[str]>`` after ``ID...``. A flag takes no value and an
argument is named by its metavar, so :class:`PlainHelpGroup` (the root group's
class) shows neither: the one place the help rows are shaped.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = [
    "ConcurrencyOpt",
    "ConfigOpt",
    "JsonOpt",
    "LockTimeoutOpt",
    "OptionOpt",
    "PlainHelpGroup",
    "ProviderOpt",
    "ScopeOpt",
    "TargetsOpt",
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
TargetsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target", "-t", metavar="NAME", help="Fleet target ([targets.NAME] in the config), repeatable."
    ),
]
ScopeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        metavar="KEY=VALUE",
        help="Only the scopes of the targets whose option KEY is VALUE; repeatable.",
        callback=key_value_pairs,
    ),
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", metavar="N", min=1, max=256, help="Scopes worked at once.")
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


class _Flag(TyperOption):
    """A flag: nothing after its name in the help table."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Argument(TyperArgument):
    """An argument named by its metavar (``ID...``): no type after it, no second ``...`` in the usage."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().get_usage_pieces(ctx)
        if self.metavar and self.metavar.endswith("..."):
            return [piece.removesuffix("...") for piece in pieces]
        return pieces


def _plain_help(command: Any, ctx: Any) -> None:
    """Give ``command``'s flags and arguments (and its sub-commands', recursively) plain help rows."""
    for param in command.get_params(ctx):  # with the help option, which click makes on demand
        if type(param) is TyperOption and param.is_flag:
            param.__class__ = _Flag
        elif type(param) is TyperArgument:
            param.__class__ = _Argument
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub, ctx)


class PlainHelpGroup(TyperGroup):
    """The root group: before parsing, every command below it gets plain help rows."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _plain_help(self, ctx)
        result: list[str] = super().parse_args(ctx, args)
        return result

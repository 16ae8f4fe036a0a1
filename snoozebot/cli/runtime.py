"""What a command needs at run time: config, state, and a plugin manager."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from snoozebot.config import Config, load_config, parse_options
from snoozebot.errors import UsageError
from snoozebot.host import prestart
from snoozebot.host.manager import DEFAULT_TIMEOUT, PluginManager
from snoozebot.state import state_dir

__all__ = ["Runtime", "open_runtime", "resolve_timeout"]


def resolve_timeout(timeout: float | None) -> float:
    """``--timeout``, else ``$SNOOZEBOT_TIMEOUT``, else the default."""
    if timeout is not None:
        return timeout
    env = os.environ.get("SNOOZEBOT_TIMEOUT")
    if not env:
        return DEFAULT_TIMEOUT
    try:
        value = float(env)
    except ValueError:
        raise UsageError(f"SNOOZEBOT_TIMEOUT must be a number of seconds, got {env!r}") from None
    if value <= 0:
        raise UsageError(f"SNOOZEBOT_TIMEOUT must be positive, got {env!r}")
    return value


@dataclass
class Runtime:
    """Resolved settings plus the manager whose workers are stopped on exit."""

    config: Config
    state: Path
    timeout: float
    options: dict[str, str]
    manager: PluginManager


@contextlib.contextmanager
def open_runtime(
    *, config: str | None, options: list[str] | None, timeout: float | None
) -> Iterator[Runtime]:
    """Build the runtime; every worker it started is shut down on the way out."""
    cfg = load_config(config)
    overrides = parse_options(options or [])
    seconds = resolve_timeout(timeout)
    directory = state_dir()
    manager = PluginManager(
        config=cfg,
        state_directory=directory,
        timeout=seconds,
        option_overrides=overrides,
        prestarted=prestart.adopt(cfg, overrides),
    )
    try:
        yield Runtime(cfg, directory, seconds, overrides, manager)
    finally:
        manager.shutdown()

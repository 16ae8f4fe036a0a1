"""The configuration file: where it is, and the provider options it holds.

Resolution: ``--config FILE``, else ``$SNOOZEBOT_CONFIG``, else
``config.toml`` in the platform's user config directory. A missing default
file is an empty configuration; a missing explicit one is a usage error.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snoozebot.errors import UsageError

__all__ = ["Config", "default_config_path", "load_config", "parse_options"]


def default_config_path() -> Path:
    """The config file used when neither ``--config`` nor ``$SNOOZEBOT_CONFIG`` is given."""
    import platformdirs

    return Path(platformdirs.user_config_dir("snoozebot")) / "config.toml"


@dataclass(frozen=True)
class Config:
    """The parsed configuration file."""

    path: Path | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> dict[str, Any]:
        """A top-level table (``schedules``, ``idle``, ``agent``, ...), empty when absent."""
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise UsageError(f"{self.path}: [{name}] must be a table")
        return value

    def provider_options(self, provider: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        """``[providers.NAME]`` as strings, with ``-o KEY=VALUE`` overrides applied."""
        table = self.table("providers").get(provider, {})
        if not isinstance(table, dict):
            raise UsageError(f"{self.path}: [providers.{provider}] must be a table")
        options = {str(k): _option_text(v) for k, v in table.items()}
        options.update(overrides or {})
        return options


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the configuration; a bad or missing explicit file is a UsageError."""
    explicit = path or os.environ.get("SNOOZEBOT_CONFIG")
    config_path = Path(explicit) if explicit else default_config_path()
    try:
        with open(config_path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        if explicit:
            raise UsageError(f"config file not found: {config_path}") from None
        return Config(None, {})
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{config_path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {config_path}: {exc.strerror}") from None
    return Config(config_path, data)


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """Turn repeated ``KEY=VALUE`` strings into a dict; a pair without '=' is a UsageError."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options

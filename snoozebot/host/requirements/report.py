"""The report model: what was required, what its status is, and the fix it names.

Plain frozen dataclasses with ``to_dict`` for ``--json``; no checks live here.
"""

from __future__ import annotations

import enum
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CORE_DISTRIBUTION",
    "ApiStatus",
    "ApiVerdict",
    "Installed",
    "InstalledLookup",
    "Kind",
    "PluginReport",
    "ProviderFacts",
    "RequirementCheck",
    "Status",
    "pip_command",
]

CORE_DISTRIBUTION = "snoozebot"


class Status(enum.StrEnum):
    """The verdict on one requirement."""

    MET = "met"
    MISSING = "missing"
    WRONG_VERSION = "wrong_version"
    CONFLICT = "conflict"
    CYCLE = "cycle"
    INVALID = "invalid"
    BROKEN = "broken"


class Kind(enum.StrEnum):
    """What a requirement is on."""

    CORE = "core"
    LIBRARY = "library"
    PROVIDER = "provider"


class ApiStatus(enum.StrEnum):
    """The verdict on a plugin's ``api_version``."""

    COMPATIBLE = "compatible"
    INCOMPATIBLE = "incompatible"
    UNKNOWN = "unknown"  # the worker did not start, so its api_version is not known


@dataclass(frozen=True)
class Installed:
    """An installed distribution, as far as the checks need it."""

    name: str
    version: str
    requires: tuple[str, ...] = ()


InstalledLookup = Callable[[str], "Installed | None"]
"""Finds the installed distribution of a project name, or None."""


@dataclass(frozen=True)
class ProviderFacts:
    """What a worker told the host about its provider (or why it could not)."""

    version: str | None = None
    api_version: str | None = None
    requires_plugins: tuple[str, ...] = ()
    error: str | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class RequirementCheck:
    """One requirement of one plugin and its status."""

    plugin: str
    requirement: str
    kind: Kind
    status: Status
    installed: str | None = None
    message: str = ""
    fix: str | None = None
    project: str = ""

    @property
    def ok(self) -> bool:
        """Whether the requirement is met."""
        return self.status is Status.MET

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "requirement": self.requirement,
            "kind": self.kind.value,
            "status": self.status.value,
            "installed": self.installed,
            "message": self.message or None,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class ApiVerdict:
    """Whether the plugin's ``api_version`` suits this Snoozebot (learnt in a worker)."""

    status: ApiStatus
    plugin_api: str | None
    host_api: str
    message: str = ""
    fix: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the plugin API is compatible."""
        return self.status is ApiStatus.COMPATIBLE

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "status": self.status.value,
            "plugin_api": self.plugin_api,
            "host_api": self.host_api,
            "message": self.message or None,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class PluginReport:
    """Every requirement of one provider, and its api_version verdict."""

    name: str
    distribution: str | None
    version: str | None
    checks: tuple[RequirementCheck, ...] = ()
    api: ApiVerdict | None = None
    error: str | None = None
    error_fix: str | None = None

    @property
    def problems(self) -> list[str]:
        """One sentence per problem, each naming its fix."""
        found = [self.error] if self.error else []
        found += [c.message for c in self.checks if not c.ok]
        if self.api is not None and not self.api.ok and self.api.message not in found:
            found.append(self.api.message)
        return found

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form (``plugins check --json``)."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "ok": self.ok,
            "error": self.error,
            "api": self.api.to_dict() if self.api else None,
            "requirements": [c.to_dict() for c in self.checks],
            "problems": self.problems,
        }


def pip_command(*args: str) -> str:
    """The shell line running pip in this very interpreter, e.g. ``/venv/bin/python -m pip install 'x'``."""
    return " ".join([shlex.quote(sys.executable), "-m", "pip", *(shlex.quote(a) for a in args)])

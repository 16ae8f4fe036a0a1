"""Installing and removing provider distributions with pip, in this very interpreter.

pip runs as ``sys.executable -m pip``, so a plugin always lands in the
environment Snoozebot itself runs in, never in whatever ``pip`` is first on
``PATH``. pip's own configuration applies unchanged (``PIP_INDEX_URL``,
``PIP_NO_INDEX``, ``PIP_FIND_LINKS``, ``pip.conf``). When pip fails, the
distributions it had already added are removed again, so nothing is left
half-installed; anything it upgraded is named with the command restoring it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snoozebot.errors import OperationFailed, PluginNotFound, UsageError
from snoozebot.host._requirement import canonical as _canonical
from snoozebot.host.discovery import DiscoveredPlugin
from snoozebot.host.requirements import CORE_DISTRIBUTION, pip_command

__all__ = ["PIP_TIMEOUT", "Change", "install", "owner", "providers_of", "resolve_target", "uninstall"]

PIP_TIMEOUT = 900.0
"""Seconds a pip run may take before it is stopped (it downloads and may build)."""

_PATH_SUFFIXES = (".whl", ".tar.gz", ".zip")


@dataclass(frozen=True)
class Change:
    """What one pip run changed in the environment (canonical name -> version)."""

    requirement: str
    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    upgraded: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def touched(self) -> set[str]:
        return set(self.added) | set(self.removed) | set(self.upgraded)

    def to_dict(self) -> dict[str, object]:
        return {
            "requirement": self.requirement,
            "added": self.added,
            "removed": self.removed,
            "upgraded": {k: {"from": a, "to": b} for k, (a, b) in self.upgraded.items()},
        }


def resolve_target(target: str) -> str:
    """What pip is given for ``target``: a path as an absolute path, a short name as ``snoozebot-NAME``.

    Anything else must be a valid requirement (``snoozebot-acme>=1.2``, ``acme[extra]``)
    and is passed on as written.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    if os.sep in target or target.startswith(".") or target.endswith(_PATH_SUFFIXES) or Path(target).exists():
        path = Path(target).expanduser()
        if not path.exists():
            raise UsageError(f"no such file or directory: {target}")
        return str(path.resolve())
    try:
        req = Requirement(target)
    except InvalidRequirement as exc:
        raise UsageError(f"{target!r} is neither a path nor a requirement: {exc}") from None
    bare = not (req.specifier or req.extras or req.url or req.marker)
    if bare and not _canonical(req.name).startswith(CORE_DISTRIBUTION):
        return f"snoozebot-{req.name}"
    return target


def _snapshot() -> dict[str, str]:
    importlib.invalidate_caches()
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:  # a distribution without a name is not ours to judge here
            found.setdefault(_canonical(name), dist.version)
    return found


def _diff(requirement: str, before: dict[str, str], after: dict[str, str]) -> Change:
    return Change(
        requirement,
        added={k: v for k, v in after.items() if k not in before},
        removed={k: v for k, v in before.items() if k not in after},
        upgraded={k: (before[k], v) for k, v in after.items() if k in before and before[k] != v},
    )


def _pip(args: Sequence[str], *, timeout: float) -> int:
    """Run pip in this interpreter; its output goes to stderr (stdout belongs to results)."""
    if importlib.util.find_spec("pip") is None:
        raise OperationFailed(
            f"pip is not available in this Python ({sys.executable}); "
            f"fix: {sys.executable} -m ensurepip --upgrade"
        )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return subprocess.run(
            [sys.executable, "-m", "pip", *args],
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),
            timeout=timeout,
            check=False,
        ).returncode
    except subprocess.TimeoutExpired:
        return -1


def _failed(verb: str, change: Change, code: int, *, timeout: float) -> OperationFailed:
    why = f"it did not finish within {timeout:g}s" if code == -1 else f"exit code {code}"
    rolled = [f"removed again: {', '.join(sorted(change.added))}"] if change.added else []
    left = [f"{name} {new} (was {old}; restore: {pip_command('install', f'{name}=={old}')})"
            for name, (old, new) in sorted(change.upgraded.items())]
    state = "; ".join([*rolled, *(f"left upgraded: {item}" for item in left)]) or "nothing was changed"
    return OperationFailed(f"pip could not {verb} {change.requirement!r} ({why}); {state}")


def install(target: str, *, upgrade: bool = False, timeout: float = PIP_TIMEOUT) -> Change:
    """``pip install`` ``target`` (see :func:`resolve_target`); what changed.

    Raises OperationFailed when pip fails, after removing what it had added;
    an interrupted install (Ctrl-C) is rolled back the same way.
    """
    requirement = resolve_target(target)
    before = _snapshot()
    try:
        code = _pip(["install", *(["--upgrade"] if upgrade else []), requirement], timeout=timeout)
    except KeyboardInterrupt:
        _roll_back(_diff(requirement, before, _snapshot()), timeout=timeout)
        raise
    change = _diff(requirement, before, _snapshot())
    if code != 0:
        _roll_back(change, timeout=timeout)
        raise _failed("install", change, code, timeout=timeout)
    return change


def _roll_back(change: Change, *, timeout: float) -> None:
    """Remove the distributions a failed install added."""
    if change.added:
        _pip(["uninstall", "--yes", *sorted(change.added)], timeout=timeout)


def uninstall(distribution: str, *, timeout: float = PIP_TIMEOUT) -> Change:
    """``pip uninstall`` one distribution; what changed. Raises OperationFailed when pip fails."""
    before = _snapshot()
    code = _pip(["uninstall", "--yes", distribution], timeout=timeout)
    change = _diff(distribution, before, _snapshot())
    if code != 0:
        raise _failed("uninstall", change, code, timeout=timeout)
    return change


def owner(name: str, plugins: Sequence[DiscoveredPlugin]) -> tuple[str, list[str]]:
    """The distribution to remove for ``name`` (a provider or a distribution) and the providers it ships."""
    by_provider = {p.name: p for p in plugins}
    if name in by_provider and by_provider[name].distribution:
        distribution = str(by_provider[name].distribution)
    else:
        distribution = name
    wanted = _canonical(distribution)
    ships = [p.name for p in plugins if p.distribution and _canonical(p.distribution) == wanted]
    if not ships:
        known = ", ".join(sorted(by_provider)) or "none"
        raise PluginNotFound(
            name, f"no provider or plugin distribution named {name!r} is installed (installed: {known})"
        )
    if _canonical(distribution) == CORE_DISTRIBUTION:
        raise UsageError(
            f"provider {name!r} is part of snoozebot itself and cannot be uninstalled alone; "
            f"to stop using it run: snoozebot plugins unload {name}"
        )
    return distribution, ships


def providers_of(change: Change, plugins: Sequence[DiscoveredPlugin]) -> list[str]:
    """The providers shipped by the distributions ``change`` touched, or named by its requirement."""
    touched = change.touched
    if not touched and not Path(change.requirement).exists():
        from packaging.requirements import Requirement

        touched = {_canonical(Requirement(change.requirement).name)}
    return [p.name for p in plugins if p.distribution and _canonical(p.distribution) in touched]

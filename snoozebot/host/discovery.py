"""Finding installed providers without importing them.

Reads the ``snoozebot.providers`` entry points from installed distributions'
metadata. Nothing a plugin ships is imported here: the worker loads its one
entry point with stevedore's ``DriverManager``. (stevedore's own entry-point
cache keeps names and targets but drops the distribution, which ``plugins
list`` must show, and silently merges duplicates, which it must report; so
the listing reads the same metadata directly.)

A broken distribution (unreadable metadata, a malformed entry point, two
distributions claiming one name) is listed with its problem and never hides
the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ENTRY_POINT_GROUP", "DiscoveredPlugin", "discover"]

ENTRY_POINT_GROUP = "snoozebot.providers"
"""The entry-point group every provider registers in."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_TARGET_RE = re.compile(r"^[\w.]+:[\w.]+$")


@dataclass(frozen=True)
class DiscoveredPlugin:
    """An installed provider as its metadata describes it."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    error: str | None = None
    requires: tuple[str, ...] = ()
    """The distribution's ``Requires-Dist`` lines, as written (checked by :mod:`.requirements`)."""

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


def _problem(name: str, target: str) -> str | None:
    if not _NAME_RE.match(name):
        return f"invalid provider name {name!r} (use lower-case letters, digits, '-' and '_')"
    if not _TARGET_RE.match(target.replace(" ", "")):
        return f"malformed entry point {target!r} (expected 'module:Class')"
    return None


def discover() -> list[DiscoveredPlugin]:
    """Every provider entry point installed in this environment, sorted by name."""
    import importlib.metadata  # costly to import; `plugins list` usually reads its cache

    found: dict[str, list[DiscoveredPlugin]] = {}
    seen: set[tuple[str, str, str | None]] = set()
    for dist in importlib.metadata.distributions():
        try:
            entry_points = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
            if not entry_points:
                continue
            dist_name = dist.metadata["Name"]
            dist_version = dist.version
            dist_requires = tuple(dist.requires or ())
        except Exception as exc:  # unreadable metadata: report, never hide the others
            path = getattr(dist, "_path", "?")
            name = f"broken:{path}"
            found.setdefault(name, []).append(
                DiscoveredPlugin(name, "", None, None, f"unreadable distribution metadata: {exc}")
            )
            continue
        for ep in entry_points:
            key = (ep.name, ep.value, dist_name)
            if key in seen:  # the same distribution seen twice on sys.path
                continue
            seen.add(key)
            found.setdefault(ep.name, []).append(
                DiscoveredPlugin(
                    ep.name, ep.value, dist_name, dist_version, _problem(ep.name, ep.value), dist_requires
                )
            )
    plugins = []
    for name, candidates in sorted(found.items()):
        if len(candidates) > 1:
            owners = " and ".join(sorted(str(c.distribution) for c in candidates))
            first = candidates[0]
            plugins.append(
                DiscoveredPlugin(
                    name,
                    first.target,
                    first.distribution,
                    first.version,
                    f"provider name {name!r} is claimed by {owners}; uninstall one",
                    first.requires,
                )
            )
        else:
            plugins.append(candidates[0])
    return plugins

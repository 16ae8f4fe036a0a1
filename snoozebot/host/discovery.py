"""Finding installed providers through stevedore, without importing them.

stevedore lists the ``snoozebot.providers`` entry points from its
entry-point cache, which it rebuilds whenever a ``sys.path`` entry or an
``entry_points.txt`` changes (any install, upgrade or removal). Nothing a
plugin ships is imported here; the worker loads its one entry point with
stevedore's ``DriverManager`` (:mod:`snoozebot.host.worker`).

stevedore keeps each entry point's name and target but not the
distribution that declares it, which ``plugins list`` shows. So, for the
providers found, :mod:`importlib.metadata`'s own entry-point index
(``EntryPoint.dist``) names the distributions that declare them, and only
those distributions' metadata (name, version, ``Requires-Dist``) is read.

A broken distribution (unreadable entry points, which make stevedore's and
the index's listing fail as a whole), a malformed entry point and a name two
distributions claim are each listed with their problem, never hiding the
others.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import Distribution, EntryPoint, distributions, entry_points
from pathlib import Path

__all__ = ["ENTRY_POINT_GROUP", "DiscoveredPlugin", "discover"]

ENTRY_POINT_GROUP = "snoozebot.providers"
"""The entry-point group every provider registers in."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_TARGET_RE = re.compile(r"^[\w.]+:[\w.]+(\[[\w.,-]+\])?$")
"""``module:Class``, optionally with the extras it needs: ``module:Class [aws]``."""


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

    @property
    def extras(self) -> tuple[str, ...]:
        """The extras the entry point names (``module:Class [aws]``): the libraries it needs."""
        _, bracket, rest = self.target.partition("[")
        return tuple(e.strip() for e in rest.rstrip("] ").split(",") if e.strip()) if bracket else ()


@dataclass(frozen=True)
class _Owner:
    """A distribution that declares a provider entry point."""

    name: str
    version: str
    requires: tuple[str, ...]


def discover(*, fresh: bool = False) -> list[DiscoveredPlugin]:
    """Every provider entry point installed in this environment, sorted by name.

    ``fresh`` rebuilds stevedore's listing instead of reading its cache.
    """
    broken: list[DiscoveredPlugin] = []
    try:
        listed = [(ep.name, ep.value) for ep in _stevedore_entry_points(fresh=fresh)]
        owners = _owners_from_index()
    except Exception:  # one unreadable distribution fails both listings: find it, keep the rest
        owners, broken = _owners_one_by_one()
        listed = list(owners)  # only here does a walk of the distributions stand in for stevedore
    found: dict[str, list[tuple[str, _Owner | None]]] = {}
    for name, target in dict.fromkeys(listed):
        claims: list[_Owner | None] = [*owners.get((name, target), [])] or [None]
        found.setdefault(name, []).extend((target, owner) for owner in claims)
    plugins = [_plugin(name, claims) for name, claims in sorted(found.items())]
    return sorted([*plugins, *broken], key=lambda p: p.name)


def _stevedore_entry_points(*, fresh: bool) -> list[EntryPoint]:
    """The group's entry points from stevedore, none of them loaded.

    ``stevedore._cache`` is stevedore's own (private) module: tests/test_discovery.py
    fails if listing through it stops reading, or rebuilding, stevedore's cache.
    """
    from stevedore import _cache  # its import and cache cost the accepted price (docs/architecture.md)

    if not fresh:
        # A new Cache each time: stevedore's module-level one (and ExtensionManager's
        # class-level list) remember a listing for the life of the process, and the
        # agent must see providers installed while it runs. The on-disk cache it reads
        # is keyed by stevedore's own stamp of the environment.
        return list(_cache.Cache().get_group_all(ENTRY_POINT_GROUP))
    with tempfile.TemporaryDirectory(prefix="snoozebot-scan-") as empty:
        Path(empty, ".disable").touch()  # stevedore's switch: build the listing, write no cache
        return list(_cache.Cache(cache_dir=empty).get_group_all(ENTRY_POINT_GROUP))


def _owner(dist: Distribution) -> _Owner:
    # one parse of the metadata: each of .metadata, .version and .requires parses it again
    # (the core's, with its long description, is most of that: 2 of 3 parses saved per owner)
    metadata = dist.metadata
    requires = tuple(metadata.get_all("Requires-Dist") or ())
    return _Owner(metadata["Name"] or "?", metadata["Version"], requires)


def _owners_from_index() -> dict[tuple[str, str], list[_Owner]]:
    """Who declares each provider entry point, from importlib.metadata's index."""
    owners: dict[tuple[str, str], list[_Owner]] = {}
    dists: dict[int, _Owner] = {}  # a distribution's entry points share its object
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        if dist is None:
            continue
        owner = dists.get(id(dist)) or dists.setdefault(id(dist), _owner(dist))
        owners.setdefault((ep.name, ep.value), []).append(owner)
    return owners


def _owners_one_by_one() -> tuple[dict[tuple[str, str], list[_Owner]], list[DiscoveredPlugin]]:
    """As :func:`_owners_from_index`, reading each distribution on its own (a broken one is listed)."""
    owners: dict[tuple[str, str], list[_Owner]] = {}
    broken: list[DiscoveredPlugin] = []
    seen: set[tuple[str, str, str]] = set()
    for dist in distributions():
        try:
            declared = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
            owner = _owner(dist) if declared else None
        except Exception as exc:
            path = getattr(dist, "_path", "?")
            problem = f"unreadable distribution metadata: {exc}"
            broken.append(DiscoveredPlugin(f"broken:{path}", "", None, None, problem))
            continue
        for ep in declared:
            assert owner is not None
            if (ep.name, ep.value, owner.name) not in seen:  # the same distribution twice on sys.path
                seen.add((ep.name, ep.value, owner.name))
                owners.setdefault((ep.name, ep.value), []).append(owner)
    return owners, broken


def _plugin(name: str, claims: Sequence[tuple[str, _Owner | None]]) -> DiscoveredPlugin:
    """One provider from its claims (target, owner); a name claimed more than once is a problem."""
    target, first = claims[0]
    owner_names = sorted({owner.name for _, owner in claims if owner is not None})
    if len(claims) > 1:
        who = " and ".join(owner_names or ["two entry points"])
        error: str | None = f"provider name {name!r} is claimed by {who}; uninstall one"
    else:
        error = _problem(name, target)
    if first is None:
        return DiscoveredPlugin(name, target, None, None, error)
    return DiscoveredPlugin(name, target, first.name, first.version, error, first.requires)


def _problem(name: str, target: str) -> str | None:
    if not _NAME_RE.match(name):
        return f"invalid provider name {name!r} (use lower-case letters, digits, '-' and '_')"
    if not _TARGET_RE.match(target.replace(" ", "")):
        return f"malformed entry point {target!r} (expected 'module:Class' or 'module:Class [extra]')"
    return None

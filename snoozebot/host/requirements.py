"""What a provider needs before it may run, checked without running it in the host.

A provider declares three kinds of requirement:

- on the core: its distribution's ``Requires-Dist: snoozebot ...`` line,
  checked against the running Snoozebot;
- on Python libraries: the rest of its ``Requires-Dist`` (markers and extras
  honoured), checked against the installed distributions' metadata;
- on other providers: the class attribute ``requires_plugins``
  (``["aws>=1.2"]``), which only a worker can read; the host learns it from
  the worker's ``hello`` message and passes it in as :class:`ProviderFacts`.

Everything here is pure: facts in, :class:`PluginReport` s out. Every problem
carries one sentence naming the plugin, the requirement, what is installed,
and the exact command that fixes it.
"""

from __future__ import annotations

import enum
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from snoozebot import __version__, sdk
from snoozebot.errors import PluginIncompatible
from snoozebot.host._requirement import InvalidRequirement, ParsedRequirement, canonical, parse

if TYPE_CHECKING:
    from snoozebot.host.discovery import DiscoveredPlugin

__all__ = [
    "CORE_DISTRIBUTION",
    "ApiVerdict",
    "Installed",
    "InstalledLookup",
    "Kind",
    "PluginReport",
    "ProviderFacts",
    "RequirementCheck",
    "Status",
    "check_plugins",
    "installed_distribution",
    "load_order",
    "pip_command",
    "required_providers",
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
        return self.status is Status.MET

    def to_dict(self) -> dict[str, Any]:
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

    status: str  # "compatible", "incompatible" or "unknown" (the worker did not start)
    plugin_api: str | None
    host_api: str
    message: str = ""
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "compatible"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
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
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
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


# -- commands and lookups ------------------------------------------------------


def pip_command(*args: str) -> str:
    """The shell line running pip in this very interpreter, e.g. ``/venv/bin/python -m pip install 'x'``."""
    return " ".join([shlex.quote(sys.executable), "-m", "pip", *(shlex.quote(a) for a in args)])


def installed_distribution(project: str) -> Installed | None:
    """The installed distribution named ``project`` (any spelling), from its metadata."""
    import importlib.metadata  # only on a scan: `plugins list` usually reads its cache

    try:
        dist = importlib.metadata.distribution(project)
        return Installed(dist.metadata["Name"] or project, dist.version, tuple(dist.requires or ()))
    except (importlib.metadata.PackageNotFoundError, OSError, ValueError):
        return None


# -- core and library requirements (metadata only) ----------------------------


def _metadata_check(
    plugin: DiscoveredPlugin, req: ParsedRequirement, installed: InstalledLookup
) -> RequirementCheck:
    project = canonical(req.name)
    kind = Kind.CORE if project == CORE_DISTRIBUTION else Kind.LIBRARY
    spec = req.pip_spec
    found = Installed(CORE_DISTRIBUTION, __version__) if kind is Kind.CORE else installed(req.name)
    base = RequirementCheck(plugin.name, spec, kind, Status.MET, project=project)
    if found is None:
        return replace(
            base,
            status=Status.MISSING,
            message=f"plugin {plugin.name!r} requires {spec}, which is not installed; "
            f"fix: {pip_command('install', spec)}",
            fix=pip_command("install", spec),
        )
    have = f"{found.name} {found.version}"
    base = replace(base, installed=have)
    if not req.satisfied_by(found.version):
        return replace(
            base,
            status=Status.WRONG_VERSION,
            message=f"plugin {plugin.name!r} requires {spec}, but {have} is installed; "
            f"fix: {pip_command('install', spec)}",
            fix=pip_command("install", spec),
        )
    for extra in sorted(req.extras):
        missing = _missing_for_extra(found, extra, installed)
        if missing:
            return replace(
                base,
                status=Status.MISSING,
                message=f"plugin {plugin.name!r} requires {spec}, but {have} is installed without "
                f"its extra {extra!r} ({missing}); fix: {pip_command('install', spec)}",
                fix=pip_command("install", spec),
            )
    return base


def _missing_for_extra(found: Installed, extra: str, installed: InstalledLookup) -> str | None:
    """What the extra ``extra`` of ``found`` needs that is absent or too old, or None."""
    for line in found.requires:
        try:
            req = parse(line)
        except InvalidRequirement:
            continue  # another distribution's broken metadata is not this plugin's problem
        if not req.applies(extra) or req.applies():
            continue  # only the lines this extra adds
        dep = installed(req.name)
        if dep is None:
            return f"{req.pip_spec} is not installed"
        if not req.satisfied_by(dep.version):
            return f"{req.pip_spec} is needed, {dep.name} {dep.version} is installed"
    return None


def _metadata_checks(plugin: DiscoveredPlugin, installed: InstalledLookup) -> list[RequirementCheck]:
    if plugin.distribution and canonical(plugin.distribution) == CORE_DISTRIBUTION:
        return []  # a built-in provider: the core's own requirements are pip's business
    checks = []
    for line in plugin.requires:
        try:
            req = parse(line)
        except InvalidRequirement as exc:
            checks.append(_invalid(plugin, line, Kind.LIBRARY, str(exc)))
            continue
        if req.applies():
            checks.append(_metadata_check(plugin, req, installed))
    return checks


def _invalid(plugin: DiscoveredPlugin, text: str, kind: Kind, reason: str) -> RequirementCheck:
    fix = pip_command("install", "--upgrade", plugin.distribution or plugin.name)
    return RequirementCheck(
        plugin.name,
        text,
        kind,
        Status.INVALID,
        message=f"plugin {plugin.name!r} declares an invalid requirement {text!r} ({reason}); "
        f"fix: {fix} (or report it to the plugin's author)",
        fix=fix,
    )


def _overlap(a: str, b: str) -> bool:
    """Whether some version is in both ranges (tried on the versions they name and next to them)."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    both = SpecifierSet(a) & SpecifierSet(b)
    candidates = {Version("0")}
    for spec in both:
        try:
            version = Version(spec.version.removesuffix(".*"))
        except InvalidVersion:
            return True  # arbitrary equality (===): assume it can be met
        candidates.add(version)
        candidates.add(Version(".".join(str(n) for n in (*version.release, 1))))
    return any(both.contains(v, prereleases=True) for v in candidates)


def _with_conflicts(
    checks: dict[str, list[RequirementCheck]], plugins: Mapping[str, DiscoveredPlugin]
) -> None:
    """Turn an unmet requirement into a conflict when another plugin's requirement excludes every fix."""
    for name, own in checks.items():
        for i, check in enumerate(own):
            if check.status not in (Status.WRONG_VERSION, Status.MISSING) or check.kind is Kind.PROVIDER:
                continue
            mine = parse(check.requirement).range
            for other_name, theirs in checks.items():
                if other_name == name:
                    continue
                clash = next(
                    (
                        t
                        for t in theirs
                        if t.project == check.project
                        and t.status is not Status.INVALID
                        and not _overlap(mine, parse(t.requirement).range)
                    ),
                    None,
                )
                if clash is None:
                    continue
                other = plugins[other_name]
                fix = (
                    f"snoozebot plugins uninstall {other_name} && {pip_command('install', check.requirement)}"
                )
                own[i] = replace(
                    check,
                    status=Status.CONFLICT,
                    message=f"plugin {name!r} requires {check.requirement}, but "
                    f"{check.installed or 'nothing'} is installed and plugin {other_name!r} "
                    f"({other.distribution}) requires {clash.requirement}: no version satisfies both; "
                    f"fix: {fix} (or upgrade {other.distribution} if a newer release allows it)",
                    fix=fix,
                )
                break


# -- provider requirements (facts learnt in workers) --------------------------


def _provider_requirements(facts: ProviderFacts) -> list[tuple[str, ParsedRequirement | None, str]]:
    """(text, parsed or None, parse error) for each ``requires_plugins`` entry."""
    parsed: list[tuple[str, ParsedRequirement | None, str]] = []
    for text in facts.requires_plugins:
        try:
            parsed.append((text, parse(text), ""))
        except InvalidRequirement as exc:
            parsed.append((text, None, str(exc)))
    return parsed


def required_providers(facts: ProviderFacts) -> list[str]:
    """The provider names a provider's ``requires_plugins`` names (unparsable entries left out)."""
    return [req.name for _, req, _ in _provider_requirements(facts) if req is not None]


def _graph(facts: Mapping[str, ProviderFacts]) -> dict[str, list[str]]:
    return {name: required_providers(f) for name, f in facts.items()}


def _cycle_through(start: str, first: str, graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The shortest path ``start -> first -> ... -> start``, if the edge closes a cycle."""
    paths = {first: [start, first]}
    queue = [first]
    while queue:
        node = queue.pop(0)
        if node == start:
            return paths[node]
        for nxt in graph.get(node, ()):
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return None


def _provider_check(
    plugin: DiscoveredPlugin,
    req: ParsedRequirement,
    *,
    plugins: Mapping[str, DiscoveredPlugin],
    facts: Mapping[str, ProviderFacts],
    graph: Mapping[str, Sequence[str]],
) -> RequirementCheck:
    name = plugin.name
    target = plugins.get(req.name)
    spec = f"{req.name}{req.range}"
    base = RequirementCheck(name, spec, Kind.PROVIDER, Status.MET, project=req.name)
    if target is None:
        fix = pip_command("install", f"snoozebot-{req.name}{req.range}")
        return replace(
            base,
            status=Status.MISSING,
            message=f"plugin {name!r} requires provider {spec}, which is not installed; fix: {fix}",
            fix=fix,
        )
    dist = target.distribution or req.name
    target_facts = facts.get(req.name, ProviderFacts())
    version = target_facts.version or target.version
    have = f"provider {req.name} {version} ({dist} {target.version})"
    base = replace(base, installed=have)
    cycle = _cycle_through(name, req.name, graph)
    if cycle:
        owners = sorted({plugins[n].distribution or n for n in cycle if n in plugins})
        fix = pip_command("install", "--upgrade", *owners)
        return replace(
            base,
            status=Status.CYCLE,
            message=f"plugin {name!r} requires provider {spec}, which requires it back "
            f"(cycle: {' -> '.join(cycle)}); fix: {fix} "
            "(a cycle is a packaging bug: report it to the authors)",
            fix=fix,
        )
    if target.error or target_facts.error:
        reason = target.error or target_facts.error
        # a name two distributions claim: remove one; a worker that cannot start: reinstall it
        fix = pip_command("uninstall", "-y", dist) if target.error else pip_command(
            "install", "--force-reinstall", dist
        )
        return replace(
            base,
            status=Status.CONFLICT if target.error else Status.BROKEN,
            message=f"plugin {name!r} requires provider {spec}; {have} is installed but unusable "
            f"({reason}); fix: {fix}",
            fix=fix,
        )
    if not req.satisfied_by(version or "0"):
        fix = pip_command("install", f"{dist}{req.range}")
        return replace(
            base,
            status=Status.WRONG_VERSION,
            message=f"plugin {name!r} requires provider {spec}, but {have} is installed; fix: {fix}",
            fix=fix,
        )
    return base


def _api_verdict(plugin: DiscoveredPlugin, facts: ProviderFacts) -> ApiVerdict:
    host = sdk.API_VERSION
    if facts.error is None:
        return ApiVerdict("compatible", facts.api_version, host)
    if facts.error_code == PluginIncompatible.code:
        owners = sorted({CORE_DISTRIBUTION, plugin.distribution or plugin.name})
        fix = pip_command("install", "--upgrade", *owners)
        return ApiVerdict("incompatible", facts.api_version, host, f"{facts.error}; fix: {fix}", fix)
    fix = pip_command("install", "--force-reinstall", plugin.distribution or plugin.name)
    return ApiVerdict("unknown", facts.api_version, host, f"{facts.error}; fix: {fix}", fix)


def check_plugins(
    plugins: Iterable[DiscoveredPlugin],
    *,
    names: Iterable[str] | None = None,
    facts: Mapping[str, ProviderFacts] | None = None,
    installed: InstalledLookup = installed_distribution,
) -> list[PluginReport]:
    """Reports for ``names`` (default: every plugin).

    Core and library requirements come from metadata alone. Provider
    requirements and the api_version verdict need ``facts`` learnt in workers
    (for the plugins reported and the providers they require); without
    ``facts`` they are left out, which keeps ``plugins list`` free of workers.
    Conflicts are judged against every installed plugin's requirements.
    """
    by_name = {p.name: p for p in plugins}
    wanted = list(by_name) if names is None else list(names)
    checks = {p.name: _metadata_checks(p, installed) for p in by_name.values() if not p.error}
    _with_conflicts(checks, by_name)
    graph = _graph(facts or {})
    reports = []
    for name in wanted:
        plugin = by_name[name]
        own = list(checks.get(name, []))
        api = None
        if facts is not None and name in facts:
            for text, req, reason in _provider_requirements(facts[name]):
                if req is None:
                    own.append(_invalid(plugin, text, Kind.PROVIDER, reason))
                else:
                    own.append(_provider_check(plugin, req, plugins=by_name, facts=facts, graph=graph))
            api = _api_verdict(plugin, facts[name])
        error = fix = None
        if plugin.error:
            fix = pip_command("uninstall", "-y", plugin.distribution) if plugin.distribution else None
            error = f"plugin {name!r}: {plugin.error}" + (f"; fix: {fix}" if fix else "")
        reports.append(
            PluginReport(name, plugin.distribution, plugin.version, tuple(own), api, error, fix)
        )
    return reports


def load_order(root: str, reports: Mapping[str, PluginReport]) -> list[str]:
    """The providers to load for ``root``, dependencies first; refuses on the first problem.

    ``reports`` must cover ``root`` and every provider it requires, with facts
    (so provider requirements and cycles are in them).
    """
    order: list[str] = []

    def visit(name: str, chain: list[str]) -> None:
        if name in order:
            return
        report = reports[name]
        if report.problems:
            via = "" if not chain else f" (needed by {' <- '.join(reversed(chain))})"
            raise PluginIncompatible(name, f"cannot load {name!r}{via}: {report.problems[0]}")
        for check in report.checks:
            if check.kind is Kind.PROVIDER:
                visit(check.project, [*chain, name])
        order.append(name)

    visit(root, [])
    return order


"""Core and library requirements, checked from installed metadata alone (no worker).

A provider's ``Requires-Dist`` lines (markers and extras honoured) against the
running Snoozebot and the installed distributions; then conflicts between
plugins whose ranges for one library cannot both be met.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from snoozebot import __version__
from snoozebot.host._requirement import InvalidRequirement, ParsedRequirement, canonical, parse
from snoozebot.host.requirements.report import (
    CORE_DISTRIBUTION,
    Installed,
    InstalledLookup,
    Kind,
    RequirementCheck,
    Status,
    pip_command,
)

if TYPE_CHECKING:
    from snoozebot.host.discovery import DiscoveredPlugin

__all__ = ["installed_distribution", "invalid", "metadata_checks", "overlap", "with_conflicts"]


def installed_distribution(project: str) -> Installed | None:
    """The installed distribution named ``project`` (any spelling), from its metadata."""
    import importlib.metadata  # discovery has imported it already

    try:
        # one parse of the metadata (each of .metadata, .version and .requires parses it again)
        metadata = importlib.metadata.distribution(project).metadata
        requires = tuple(metadata.get_all("Requires-Dist") or ())
        return Installed(metadata["Name"] or project, metadata["Version"], requires)
    except (importlib.metadata.PackageNotFoundError, OSError, ValueError):
        return None


def invalid(plugin: DiscoveredPlugin, text: str, kind: Kind, reason: str) -> RequirementCheck:
    """The check of a requirement string that does not parse."""
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


_LINE_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _absent_for_extra(found: Installed, extra: str, installed: InstalledLookup) -> str | None:
    """The first library the extra ``extra`` of ``found`` adds that is not installed, or None.

    Presence only, read without packaging's parser: this runs for every built-in
    provider in `plugins list` (packaging's import is 7 ms of it; benchmarks/bench_host.py).
    A library present but too old shows when the worker imports it.
    """
    for line in found.requires:
        head, _, marker = line.partition(";")
        if not re.search(rf"""extra\s*==\s*['"]{re.escape(extra)}['"]""", marker):
            continue
        name = _LINE_NAME.match(head)
        if name is not None and installed(name.group(1)) is None:
            return f"{head.strip()} is not installed"
    return None


def _missing_for_extra(found: Installed, extra: str, installed: InstalledLookup) -> str | None:
    """What the extra ``extra`` of ``found`` needs that is absent or too old, or None."""
    for line in found.requires:
        if extra not in line.partition(";")[2]:
            continue  # not this extra's line: skip it unparsed (a complex marker costs packaging's import)
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


def metadata_checks(plugin: DiscoveredPlugin, installed: InstalledLookup) -> list[RequirementCheck]:
    """The checks of every core and library requirement of ``plugin`` that applies here."""
    checks = _extra_checks(plugin, installed)
    if plugin.distribution and canonical(plugin.distribution) == CORE_DISTRIBUTION:
        return checks  # a built-in provider: beyond its extra, the core's requirements are pip's business
    for line in plugin.requires:
        try:
            req = parse(line)
        except InvalidRequirement as exc:
            checks.append(invalid(plugin, line, Kind.LIBRARY, str(exc)))
            continue
        if req.applies():
            checks.append(_metadata_check(plugin, req, installed))
    return checks


def _extra_checks(plugin: DiscoveredPlugin, installed: InstalledLookup) -> list[RequirementCheck]:
    """The libraries of the extras the entry point names (``snoozebot_aws:AwsProvider [aws]``)."""
    own = installed(plugin.distribution) if plugin.distribution and plugin.extras else None
    if own is None:
        return []
    checks = []
    for extra in plugin.extras:
        spec = f"{plugin.distribution}[{extra}]"
        check = RequirementCheck(plugin.name, spec, Kind.LIBRARY, Status.MET, project=canonical(own.name))
        missing = _absent_for_extra(own, extra, installed)
        if missing:
            fix = pip_command("install", spec)
            check = replace(
                check,
                status=Status.MISSING,
                message=f"provider {plugin.name!r} needs the libraries of {spec} ({missing}); fix: {fix}",
                fix=fix,
            )
        checks.append(check)
    return checks


def overlap(a: str, b: str) -> bool:
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


def with_conflicts(
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
                        and not overlap(mine, parse(t.requirement).range)
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

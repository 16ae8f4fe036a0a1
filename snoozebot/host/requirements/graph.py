"""Requirements between providers (``requires_plugins``), learnt in workers.

The provider graph: each provider's required providers, cycles through it, the
check of each edge, the ``api_version`` verdict, and the order to load them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from snoozebot import sdk
from snoozebot.errors import PluginIncompatible
from snoozebot.host._requirement import InvalidRequirement, ParsedRequirement, parse
from snoozebot.host.requirements.report import (
    CORE_DISTRIBUTION,
    ApiStatus,
    ApiVerdict,
    Kind,
    PluginReport,
    ProviderFacts,
    RequirementCheck,
    Status,
    pip_command,
)

if TYPE_CHECKING:
    from snoozebot.host.discovery import DiscoveredPlugin

__all__ = [
    "api_verdict",
    "load_order",
    "provider_check",
    "provider_graph",
    "provider_requirements",
    "required_providers",
]


def provider_requirements(facts: ProviderFacts) -> list[tuple[str, ParsedRequirement | None, str]]:
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
    return [req.name for _, req, _ in provider_requirements(facts) if req is not None]


def provider_graph(facts: Mapping[str, ProviderFacts]) -> dict[str, list[str]]:
    """Provider name -> the providers it requires."""
    return {name: required_providers(f) for name, f in facts.items()}


def _cycle_through(start: str, first: str, edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The shortest path ``start -> first -> ... -> start``, if the edge closes a cycle."""
    paths = {first: [start, first]}
    queue = [first]
    while queue:
        node = queue.pop(0)
        if node == start:
            return paths[node]
        for nxt in edges.get(node, ()):
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return None


def provider_check(
    plugin: DiscoveredPlugin,
    req: ParsedRequirement,
    *,
    plugins: Mapping[str, DiscoveredPlugin],
    facts: Mapping[str, ProviderFacts],
    edges: Mapping[str, Sequence[str]],
) -> RequirementCheck:
    """The check of one ``requires_plugins`` entry of ``plugin``."""
    name = plugin.name
    required = plugins.get(req.name)
    spec = f"{req.name}{req.range}"
    base = RequirementCheck(name, spec, Kind.PROVIDER, Status.MET, project=req.name)
    if required is None:
        fix = pip_command("install", f"snoozebot-{req.name}{req.range}")
        return replace(
            base,
            status=Status.MISSING,
            message=f"plugin {name!r} requires provider {spec}, which is not installed; fix: {fix}",
            fix=fix,
        )
    dist = required.distribution or req.name
    required_facts = facts.get(req.name, ProviderFacts())
    version = required_facts.version or required.version
    have = f"provider {req.name} {version} ({dist} {required.version})"
    base = replace(base, installed=have)
    cycle = _cycle_through(name, req.name, edges)
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
    if required.error or required_facts.error:
        reason = required.error or required_facts.error
        # a name two distributions claim: remove one; a worker that cannot start: reinstall it
        fix = pip_command("uninstall", "-y", dist) if required.error else pip_command(
            "install", "--force-reinstall", dist
        )
        return replace(
            base,
            status=Status.CONFLICT if required.error else Status.BROKEN,
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


def api_verdict(plugin: DiscoveredPlugin, facts: ProviderFacts) -> ApiVerdict:
    """Whether the plugin API the worker announced suits this Snoozebot."""
    host = sdk.API_VERSION
    if facts.error is None:
        return ApiVerdict(ApiStatus.COMPATIBLE, facts.api_version, host)
    if facts.error_code == PluginIncompatible.code:
        owners = sorted({CORE_DISTRIBUTION, plugin.distribution or plugin.name})
        fix = pip_command("install", "--upgrade", *owners)
        return ApiVerdict(ApiStatus.INCOMPATIBLE, facts.api_version, host, f"{facts.error}; fix: {fix}", fix)
    fix = pip_command("install", "--force-reinstall", plugin.distribution or plugin.name)
    return ApiVerdict(ApiStatus.UNKNOWN, facts.api_version, host, f"{facts.error}; fix: {fix}", fix)


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

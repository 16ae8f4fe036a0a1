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
and the exact command that fixes it. One module per job:

- :mod:`.report`: the report model (statuses, checks, verdicts, reports);
- :mod:`.metadata`: core and library checks from installed metadata;
- :mod:`.graph`: the provider graph (requirements between providers, cycles,
  load order) and the ``api_version`` verdict.

This module ties them together in :func:`check_plugins` and is the public face.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from snoozebot.host.requirements.graph import (
    api_verdict,
    load_order,
    provider_check,
    provider_graph,
    provider_requirements,
    required_providers,
)
from snoozebot.host.requirements.metadata import (
    installed_distribution,
    invalid,
    metadata_checks,
    with_conflicts,
)
from snoozebot.host.requirements.report import (
    CORE_DISTRIBUTION,
    ApiStatus,
    ApiVerdict,
    Installed,
    InstalledLookup,
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
    "check_plugins",
    "installed_distribution",
    "load_order",
    "pip_command",
    "required_providers",
]


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
    installed = functools.lru_cache(maxsize=None)(installed)  # each distribution's metadata read once
    checks = {p.name: metadata_checks(p, installed) for p in by_name.values() if not p.error}
    with_conflicts(checks, by_name)
    edges = provider_graph(facts or {})
    reports = []
    for name in wanted:
        plugin = by_name[name]
        own = list(checks.get(name, []))
        api = None
        if facts is not None and name in facts:
            for text, req, reason in provider_requirements(facts[name]):
                if req is None:
                    own.append(invalid(plugin, text, Kind.PROVIDER, reason))
                else:
                    own.append(provider_check(plugin, req, plugins=by_name, facts=facts, edges=edges))
            # a worker that cannot import a missing library says nothing the library check does not
            missing_library = any(c.kind is Kind.LIBRARY and c.status is Status.MISSING for c in own)
            api = None if missing_library else api_verdict(plugin, facts[name])
        error = fix = None
        if plugin.error:
            fix = pip_command("uninstall", "-y", plugin.distribution) if plugin.distribution else None
            error = f"plugin {name!r}: {plugin.error}" + (f"; fix: {fix}" if fix else "")
        reports.append(
            PluginReport(name, plugin.distribution, plugin.version, tuple(own), api, error, fix)
        )
    return reports

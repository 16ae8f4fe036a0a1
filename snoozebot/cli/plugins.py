"""``snoozebot plugins``: discover, load, unload, inspect, check, install and remove providers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from snoozebot.cli.agent import AgentOpt
from snoozebot.cli.options import ConfigOpt, JsonOpt, OptionOpt, TimeoutOpt
from snoozebot.cli.output import emit_json, info, table
from snoozebot.host.manager import PluginStatus
from snoozebot.runtime import open_runtime, open_runtime_for

if TYPE_CHECKING:
    from snoozebot.host.requirements import PluginReport

__all__ = ["app"]

app = typer.Typer(
    help="Installed provider plugins: list, load, unload, inspect, check, install, uninstall.",
    no_args_is_help=True,
)

ForceOpt = Annotated[
    bool, typer.Option("--force", help="Also unload the loaded providers that require this one.")
]


def _problem_cell(status: PluginStatus) -> str:
    problems = list(status.problems) or ([status.error] if status.error else [])
    if not problems:
        return ""
    more = f" (+{len(problems) - 1} more: snoozebot plugins check {status.name})" if len(problems) > 1 else ""
    return problems[0] + more


def _print_list(statuses: list[PluginStatus], *, as_json: bool) -> None:
    if as_json:
        emit_json([s.to_dict() for s in statuses])
        return
    if not statuses:
        info("No providers installed. Install one, e.g.: snoozebot plugins install aws")
        return
    rows = [
        [s.name, s.distribution, s.version, "yes" if s.loaded else "no", _problem_cell(s)]
        for s in statuses
    ]
    table(None, ["NAME", "DISTRIBUTION", "VERSION", "LOADED", "PROBLEM"], rows)


def _print_reports(reports: list[PluginReport], *, as_json: bool) -> None:
    """The results of a check; exits 1 when any report has a problem."""
    if as_json:
        emit_json([r.to_dict() for r in reports])
    else:
        rows = []
        for r in reports:
            rows += [
                [r.name, c.requirement, c.kind.value, c.status.value, c.installed or "-"] for c in r.checks
            ]
            if r.api is not None:
                plugin_api = f"plugin API {r.api.plugin_api or ''}".strip()
                rows.append([r.name, plugin_api, "api", r.api.status, f"host API {r.api.host_api}"])
        if rows:
            table(None, ["PLUGIN", "REQUIREMENT", "KIND", "STATUS", "INSTALLED"], rows)
        for r in reports:
            for problem in r.problems:
                typer.echo(f"problem: {problem}")
    bad = [r.name for r in reports if not r.ok]
    if bad:
        info(f"{len(bad)} of {len(reports)} provider(s) have problems: {', '.join(bad)}")
        raise typer.Exit(1)
    info(f"All requirements met ({len(reports)} provider(s) checked).")


@app.command("list")
def list_(json_: JsonOpt = False, config: ConfigOpt = None, agent: AgentOpt = None) -> None:
    """List installed providers, their version, whether loaded, and any problem.

    No plugin code is imported and no worker is started: the PROBLEM column
    comes from packaging metadata (core and library requirements). Provider
    requirements and api_version need a worker: see `plugins check`.

    Example: snoozebot plugins list --json
    """
    with open_runtime_for(agent, config=config, options=None, timeout=None) as rt:
        _print_list(rt.backend.statuses(), as_json=json_)


@app.command("discover")
def discover(json_: JsonOpt = False, config: ConfigOpt = None, agent: AgentOpt = None) -> None:
    """Scan the snoozebot.providers entry points now and show what is installed.

    Example: pip install snoozebot-acme && snoozebot plugins discover
    """
    with open_runtime_for(agent, config=config, options=None, timeout=None) as rt:
        _print_list(rt.backend.statuses(fresh=True), as_json=json_)


@app.command("load")
def load(  # noqa: PLR0917 - Typer passes options by keyword
    name: str = typer.Argument(..., help="Provider name, as in `plugins list`."),
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Check requirements, start the provider's worker, health-check it, and mark it loaded.

    Providers it requires (`requires_plugins`) are loaded first. An unmet
    requirement or a cycle refuses the load and names the fix. Loaded
    providers are remembered in the state directory; `instance list` without
    -p covers all of them.

    Example: snoozebot plugins load aws
    """
    with open_runtime_for(agent, config=config, options=option, timeout=timeout) as rt:
        report = rt.backend.load(name)
    status = report.status
    if json_:
        emit_json(
            {**status.to_dict(), "config_error": report.config_error, "also_loaded": report.also_loaded}
        )
        return
    for dep in report.loaded[:-1]:
        info(f"Loaded {dep.name} {dep.plugin_version} (required by {name}).")
    info(f"Loaded {name} {status.plugin_version} (plugin API {status.api_version}).")
    if report.config_error:
        info(f"warning: {name} is not configured yet: {report.config_error}")


@app.command("unload")
def unload(
    name: str = typer.Argument(..., help="Provider name."),
    force: ForceOpt = False,
    config: ConfigOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Mark the provider unloaded and stop its worker.

    Refused while other loaded providers require it, unless --force, which
    unloads them too and says so.

    Example: snoozebot plugins unload gcp
    """
    with open_runtime_for(agent, config=config, options=None, timeout=None) as rt:
        _report_unloaded(name, rt.backend.unload(name, force=force))


@app.command("info")
def info_(  # noqa: PLR0917 - Typer passes options by keyword
    name: str = typer.Argument(..., help="Provider name."),
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    agent: AgentOpt = None,
) -> None:
    """Show a provider's versions, api_version, distribution, status and last error.

    Starts the worker briefly to read the versions the plugin declares.

    Example: snoozebot plugins info aws --json
    """
    with open_runtime_for(agent, config=config, options=option, timeout=timeout) as rt:
        doc = rt.backend.describe(name).to_dict()
    if json_:
        emit_json(doc)
        return
    rows = [[k, ", ".join(v) if isinstance(v, list) else "" if v is None else v] for k, v in doc.items()]
    table(None, ["FIELD", "VALUE"], rows)


@app.command("check")
def check(
    name: str | None = typer.Argument(None, help="Provider name; default: every installed provider."),
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Check requirements: the core, Python libraries, other providers, and the plugin API.

    Core and library requirements come from the distribution's Requires-Dist;
    `requires_plugins` and `api_version` are read in a short-lived worker, so
    no plugin code runs in this process. Every problem names its fix. Exit 0
    when all is well, 1 when any problem.

    Example: snoozebot plugins check acme --json
    """
    with open_runtime(config=config, options=option, timeout=timeout) as rt:
        reports = rt.backend.manager.check(None if name is None else [name])
        loaded = set(rt.backend.loaded_names())
    if name is None:
        skipped = [r for r in reports if r.name not in loaded and _only_lacks_its_extra(r)]
        reports = [r for r in reports if r not in skipped]
        if skipped:
            info(
                "skipped (not loaded; their libraries are not installed): "
                + ", ".join(f"{r.name} ({next(c.fix for c in r.checks if not c.ok)})" for r in skipped)
            )
    _print_reports(reports, as_json=json_)


def _only_lacks_its_extra(report: PluginReport) -> bool:
    """A provider whose only problem is its extra's libraries: not usable here, but not broken."""
    extra = f"{report.distribution}["
    failing = [c for c in report.checks if not c.ok]
    return (
        bool(failing)
        and report.error is None
        and report.api is None
        and all(c.requirement.startswith(extra) and c.fix for c in failing)
    )


@app.command("install")
def install(
    target: str = typer.Argument(
        ..., metavar="NAME_OR_REQUIREMENT", help="acme (= snoozebot-acme), a requirement, or a path."
    ),
    upgrade: bool = typer.Option(False, "--upgrade", "-U", help="Upgrade it if already installed."),
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Install a provider with pip into the environment snoozebot runs in, then check it.

    A short name maps to snoozebot-NAME; a requirement (`snoozebot-acme>=1.2`) or a
    path (a wheel or a project directory) is used as given. pip runs as
    `python -m pip` of this interpreter and honours its usual settings
    (PIP_INDEX_URL, PIP_NO_INDEX, PIP_FIND_LINKS, pip.conf). When pip fails,
    what it added is removed again.

    Example: snoozebot plugins install acme --upgrade
    """
    from snoozebot.host import installer

    change = installer.install(target, upgrade=upgrade)
    with open_runtime(config=config, options=None, timeout=timeout) as rt:
        names = installer.providers_of(change, rt.backend.manager.discover())
        reports = rt.backend.manager.check(names) if names else []
    if json_:
        emit_json({**change.to_dict(), "providers": names, "check": [r.to_dict() for r in reports]})
    _summarise(change.added, change.upgraded)
    if not names:
        info(f"warning: {change.requirement} registers no provider (entry point group snoozebot.providers)")
        raise typer.Exit(1)
    if not json_:
        _print_reports(reports, as_json=False)
    elif any(not r.ok for r in reports):
        raise typer.Exit(1)


@app.command("uninstall")
def uninstall(
    name: str = typer.Argument(..., help="Provider name (or its distribution's name)."),
    force: ForceOpt = False,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Unload the provider and remove its distribution with pip, then check what required it.

    Refused while other loaded providers require it, unless --force.

    Example: snoozebot plugins uninstall acme
    """
    from snoozebot.host import installer

    with open_runtime(config=config, options=None, timeout=timeout) as rt:
        distribution, providers = installer.owner(name, rt.backend.manager.discover())
        for provider in providers:
            if provider in rt.backend.loaded_names():
                _report_unloaded(provider, rt.backend.unload(provider, force=force))
    change = installer.uninstall(distribution)
    with open_runtime(config=config, options=None, timeout=timeout) as rt:
        gone = {*providers, *change.removed}
        reports = rt.backend.manager.check()
        affected = [r for r in reports if any(not c.ok and c.project in gone for c in r.checks)]
    if json_:
        emit_json({**change.to_dict(), "providers": providers, "check": [r.to_dict() for r in affected]})
    info(f"Uninstalled {distribution} (providers: {', '.join(providers)}).")
    if affected:
        if not json_:
            _print_reports(affected, as_json=False)
        raise typer.Exit(1)


def _report_unloaded(name: str, unloaded: list[str]) -> None:
    """Say what ``unload`` did: ``name`` and the dependents --force took with it."""
    info(f"Unloaded {name}.")
    dependents = [each for each in unloaded if each != name]
    if dependents:
        verb = "requires" if len(dependents) == 1 else "require"
        info(f"Also unloaded {', '.join(dependents)}, which {verb} {name}.")


def _summarise(added: dict[str, str], upgraded: dict[str, tuple[str, str]]) -> None:
    for dist, version in sorted(added.items()):
        info(f"Installed {dist} {version}.")
    for dist, (old, new) in sorted(upgraded.items()):
        info(f"Upgraded {dist} {old} -> {new}.")

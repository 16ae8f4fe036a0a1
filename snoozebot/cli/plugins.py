"""``snoozebot plugins``: discover, load, unload and inspect providers."""

from __future__ import annotations

import typer

from snoozebot.cli.options import ConfigOpt, JsonOpt, OptionOpt, TimeoutOpt
from snoozebot.cli.output import emit_json, info, table
from snoozebot.cli.runtime import open_runtime
from snoozebot.host.manager import PluginStatus

__all__ = ["app"]

app = typer.Typer(
    help="Installed provider plugins: list, load, unload, inspect.",
    no_args_is_help=True,
)


def _print_list(statuses: list[PluginStatus], *, as_json: bool) -> None:
    if as_json:
        emit_json([s.to_dict() for s in statuses])
        return
    if not statuses:
        info("No providers installed. Install one, e.g.: pip install 'snoozebot[aws]'")
        return
    rows = [
        [s.name, s.distribution, s.version, "yes" if s.loaded else "no", s.error or ""]
        for s in statuses
    ]
    table(None, ["NAME", "DISTRIBUTION", "VERSION", "LOADED", "PROBLEM"], rows)


@app.command("list")
def list_(json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List installed providers, their version, whether loaded, and any problem.

    No plugin code is imported and no worker is started.

    Example: snoozebot plugins list --json
    """
    with open_runtime(config=config, options=None, timeout=None) as rt:
        _print_list(rt.manager.statuses(), as_json=json_)


@app.command("discover")
def discover(json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Scan the snoozebot.providers entry points now and show what is installed.

    Example: pip install snoozebot-acme && snoozebot plugins discover
    """
    with open_runtime(config=config, options=None, timeout=None) as rt:
        _print_list(rt.manager.statuses(), as_json=json_)


@app.command("load")
def load(
    name: str = typer.Argument(..., help="Provider name, as in `plugins list`."),
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Start the provider's worker, check its versions, health-check it, and mark it loaded.

    Loaded providers are remembered in the state directory; `instance list`
    without -p covers all of them.

    Example: snoozebot plugins load aws
    """
    with open_runtime(config=config, options=option, timeout=timeout) as rt:
        status = rt.manager.load(name)
        setup_error = rt.manager.client(name).ping()
        if json_:
            emit_json({**status.to_dict(), "config_error": setup_error.message if setup_error else None})
        else:
            info(f"Loaded {name} {status.plugin_version} (plugin API {status.api_version}).")
            if setup_error:
                info(f"warning: {name} is not configured yet: {setup_error.message}")


@app.command("unload")
def unload(
    name: str = typer.Argument(..., help="Provider name."),
    config: ConfigOpt = None,
) -> None:
    """Mark the provider unloaded and stop its worker.

    Example: snoozebot plugins unload gcp
    """
    with open_runtime(config=config, options=None, timeout=None) as rt:
        rt.manager.find(name)
        rt.manager.unload(name)
        info(f"Unloaded {name}.")


@app.command("info")
def info_(
    name: str = typer.Argument(..., help="Provider name."),
    json_: JsonOpt = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Show a provider's versions, api_version, distribution, status and last error.

    Starts the worker briefly to read the versions the plugin declares.

    Example: snoozebot plugins info aws --json
    """
    with open_runtime(config=config, options=option, timeout=timeout) as rt:
        plugin = rt.manager.find(name)
        last_error = plugin.error
        if last_error is None:
            try:
                setup_error = rt.manager.client(name).ping()
                last_error = setup_error.message if setup_error else None
            except Exception as exc:  # shown, not raised: info reports problems
                last_error = str(exc)
        status = rt.manager.status(plugin)
        doc = {**status.to_dict(), "last_error": last_error or status.last_error}
        if json_:
            emit_json(doc)
            return
        table(None, ["FIELD", "VALUE"], [[k, "" if v is None else v] for k, v in doc.items()])

"""Start a command's worker before the CLI framework is even imported.

The critical path of ``snoozebot instance stop ID -p aws`` is the worker's
cloud SDK import and client creation; the host's own start-up (Typer, rich)
can run beside it. :func:`prestart` reads just enough of ``argv`` to know
which provider a command will call and forks its worker at once, while the
host is still single-threaded; the manager later :func:`adopt` s it when the
options it resolves are the same (otherwise the early worker is discarded).
Anything unexpected simply skips the optimisation.

Worth its hand-written argv scan: benchmarks/bench_aws_stop.py ("no
prestart") measured a single ``instance stop`` 38-111 ms slower without it in
four runs (once 1.17x a bare boto3 script instead of 0.93x, over the 1.1x
budget); it buys nothing only when no core is free to overlap on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from snoozebot.config import Config, load_config, parse_options

if TYPE_CHECKING:
    from snoozebot.host.process import WorkerProcess

__all__ = ["adopt", "discard", "prestart"]

_PRESTART_COMMANDS = {("instance", "list"), ("instance", "info"), ("instance", "stop"), ("instance", "start")}
_started: dict[str, tuple[dict[str, str], WorkerProcess]] = {}


def _scan(argv: Sequence[str]) -> tuple[str | None, str | None, list[str]]:
    provider = config = None
    options: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            break
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in ("-p", "--provider", "-o", "--option", "--config"):
            value = inline if eq else next(args, None)
            if value is None:
                break
            if name in ("-p", "--provider"):
                provider = value
            elif name == "--config":
                config = value
            else:
                options.append(value)
        elif arg.startswith("-p") and len(arg) > 2:
            provider = arg[2:]
        elif arg.startswith("-o") and len(arg) > 2:
            options.append(arg[2:])
    return provider, config, options


def _loaded_for(argv: Sequence[str]) -> list[str]:
    """``instance list`` without ``-p`` covers every loaded provider: start them all."""
    if tuple(argv[:2]) != ("instance", "list"):
        return []
    from snoozebot.state import LoadedSet, state_dir

    return LoadedSet(state_dir()).names()


def prestart(argv: Sequence[str]) -> None:
    """Fork the worker a provider-bound ``instance`` command will use, if any."""
    if len(argv) < 2 or (argv[0], argv[1]) not in _PRESTART_COMMANDS:
        return
    through_agent = any(a == "--agent" or a.startswith("--agent=") for a in argv)
    if through_agent or os.environ.get("SNOOZEBOT_AGENT_URL"):
        return  # the agent's workers serve this command
    try:
        provider, config_path, pairs = _scan(argv[2:])
        providers = [provider] if provider else _loaded_for(argv)
        if not providers:
            return
        from snoozebot.host.process import WorkerProcess

        config = load_config(config_path)
        for name in providers:
            options = config.provider_options(name, parse_options(pairs))
            worker = WorkerProcess.launch(name, options, start_method="fork")
            _started[name] = (options, worker)
    except Exception:  # the real parser reports whatever is wrong
        return


def adopt(config: Config, overrides: Mapping[str, str]) -> dict[str, WorkerProcess]:
    """Hand over early workers whose options match; shut down the others."""
    adopted: dict[str, WorkerProcess] = {}
    while _started:
        provider, (options, worker) = _started.popitem()
        if options == config.provider_options(provider, overrides):
            adopted[provider] = worker
        else:
            worker.shutdown()
    return adopted


def discard() -> None:
    """Shut down early workers that no command adopted (an error or Ctrl-C came first)."""
    while _started:
        _, (_, worker) = _started.popitem()
        worker.shutdown()

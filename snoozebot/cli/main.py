"""The ``snoozebot`` console script: start-up order, error mapping, exit codes.

Start-up is ordered for speed: the worker a command needs is forked before
Typer is imported (see :mod:`snoozebot.host.prestart`), and the process ends
with ``os._exit`` after flushing, skipping interpreter teardown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence

__all__ = ["main", "run"]


def _configure_logging() -> None:
    level = os.environ.get("SNOOZEBOT_LOG_LEVEL", "WARNING").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("snoozebot: %(message)s"))
    root = logging.getLogger("snoozebot")
    root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.WARNING))
    root.propagate = False


def run(argv: Sequence[str]) -> int:
    """Run one command line and return its exit code; never raises for expected failures."""
    import typer
    import typer.main

    from snoozebot import sdk
    from snoozebot.cli.app import build_app
    from snoozebot.cli.output import error
    from snoozebot.errors import EXIT_INTERRUPTED, EXIT_USAGE, SnoozebotError, exit_code_for

    _configure_logging()
    command = typer.main.get_command(build_app(argv))
    try:
        result = command.main(args=list(argv), prog_name="snoozebot", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:  # usage errors (exit 2) and the like
        show = getattr(exc, "show", None)
        show() if callable(show) else error(str(exc))
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except (typer.Abort, KeyboardInterrupt):
        error("interrupted")
        return EXIT_INTERRUPTED
    except (SnoozebotError, sdk.ProviderError) as exc:
        error(str(exc))
        return exit_code_for(exc)
    code = result if isinstance(result, int) else 0  # Typer returns Exit codes here too
    if code == EXIT_INTERRUPTED:
        error("interrupted")
    return code


def main() -> None:
    """Console-script entry point."""
    from snoozebot.host import prestart

    argv = sys.argv[1:]
    try:
        prestart.prestart(argv)
        code = run(argv)
    except KeyboardInterrupt:  # before or after Typer had a chance to handle it
        sys.stderr.write("snoozebot: error: interrupted\n")
        code = 130
    finally:
        prestart.discard()  # an early worker no command adopted
    _finish_multiprocessing()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _finish_multiprocessing() -> None:
    """Run multiprocessing's exit finalizers (its temporary directory) that os._exit would skip."""
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        with contextlib.suppress(Exception):
            util._run_finalizers()

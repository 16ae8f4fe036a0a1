"""The ``snoozebot`` console script: start-up order, error mapping, exit codes.

Start-up is ordered for speed: the worker a command needs is forked before
Typer is imported (see :mod:`snoozebot.host.prestart`), and the process ends
with ``os._exit`` after flushing, skipping interpreter teardown
(benchmarks/bench_aws_stop.py, "full teardown": -36 to +161 ms of a single
``instance stop`` in five runs on a busy 2-core machine, median +8 ms).

SIGTERM is handled like Ctrl-C: the first one raises KeyboardInterrupt in the
main thread, so the same clean-up runs (workers are shut down first), and the
process exits 143 rather than being killed by the signal. Output that cannot
be written is one line and exit 1 (see :func:`snoozebot.cli.output.guard_stdout`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

__all__ = ["main", "run"]


class _Termination:
    """The SIGTERM handler: the first signal while armed interrupts; later ones are ignored."""

    def __init__(self) -> None:
        self.armed = False
        self.received = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.armed and not self.received:
            self.received = True
            raise KeyboardInterrupt  # Ctrl-C's clean-up paths, then exit 143 (see _interrupted)


_TERMINATION = _Termination()


def _interrupted() -> int:
    """The one line and the exit code of an interruption: 130 for Ctrl-C, 143 for SIGTERM."""
    from snoozebot.cli.output import error
    from snoozebot.errors import EXIT_INTERRUPTED, EXIT_TERMINATED

    if _TERMINATION.received:
        error("terminated")
        return EXIT_TERMINATED
    error("interrupted")
    return EXIT_INTERRUPTED


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
        return _interrupted()
    except (SnoozebotError, sdk.ProviderError) as exc:
        error(str(exc))
        return exit_code_for(exc)
    code = result if isinstance(result, int) else 0  # Typer returns Exit codes here too
    return _interrupted() if code == EXIT_INTERRUPTED else code


def main() -> None:
    """Console-script entry point."""
    from snoozebot.cli import output
    from snoozebot.cli.argv import hoist_common_options
    from snoozebot.host import prestart

    _reserve_standard_fds()
    output.guard_stdout()
    signal.signal(signal.SIGTERM, _TERMINATION)
    _TERMINATION.armed = True
    argv = hoist_common_options(sys.argv[1:])
    try:
        prestart.prestart(argv)
        code = run(argv)
    except KeyboardInterrupt:  # before or after Typer had a chance to handle it
        code = _interrupted()
    finally:
        _TERMINATION.armed = False  # the command is over: a late SIGTERM changes nothing
        prestart.discard()  # an early worker no command adopted
    _finish_multiprocessing()
    code = _flush_output(code)
    os._exit(code)


def _flush_output(code: int) -> int:
    """Flush stdout and stderr; output that could not be written is one line and exit 1."""
    from snoozebot.cli.output import error
    from snoozebot.errors import EXIT_FAILED, OutputFailed

    try:
        sys.stdout.flush()
    except OutputFailed as exc:
        error(exc.message)
        code = code or EXIT_FAILED
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    return code


def _reserve_standard_fds() -> None:
    """Put /dev/null on each of fds 0-2 the process was started without.

    Otherwise the next file opened (the audit database, a pipe to a worker)
    would take that number, and a child's output could land in it. A closed
    stdout is still reported as closed: ``sys.stdout`` stays None underneath.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.set_inheritable(os.open(os.devnull, os.O_RDWR), True)  # the lowest free fd: this one
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process


def _finish_multiprocessing() -> None:
    """Run multiprocessing's exit finalizers (its temporary directory) that os._exit would skip.

    A private function of the standard library: tests/test_cli_host.py
    (test_os_exit_still_runs_multiprocessings_cleanup) fails if it goes or changes.
    """
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        with contextlib.suppress(Exception):
            util._run_finalizers()

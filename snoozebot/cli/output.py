"""Writing results: JSON for scripts, rich tables for people, one-line errors.

Text that a plugin controls goes through :func:`snoozebot.text.one_line` on
its way to a terminal (JSON needs no escaping: ``json.dumps`` escapes control
characters already). Output that cannot be written (closed stdout, a full
disk, a broken pipe, an encoding that cannot hold the text) is
:class:`~snoozebot.errors.OutputFailed`, exit 1, once stdout is guarded by
:func:`guard_stdout`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO, cast

from snoozebot.errors import OutputFailed
from snoozebot.text import one_line

__all__ = ["emit_json", "error", "guard_stdout", "info", "is_terminal", "table"]


class _GuardedStdout:
    """``sys.stdout`` whose write failures are one :class:`OutputFailed`, reported once."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream  # None: the process started with stdout closed
        self._failure: OutputFailed | None = None

    def _fail(self, exc: BaseException) -> OutputFailed:
        if isinstance(exc, OSError) and exc.errno == errno.EBADF:
            reason = "stdout is closed"
        elif isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror
        else:
            reason = str(exc)
        self._failure = OutputFailed(f"cannot write the output: {reason}")
        return self._failure

    def write(self, text: str) -> int:
        if self._failure is not None:
            raise OutputFailed(self._failure.message)
        if self._stream is None:
            raise self._fail(OSError(errno.EBADF, "closed"))
        try:
            return self._stream.write(text)
        except (OSError, UnicodeEncodeError, ValueError) as exc:
            raise self._fail(exc) from None

    def flush(self) -> None:
        if self._failure is not None or self._stream is None:
            return  # already reported, or nothing was ever buffered
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise self._fail(exc) from None

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


def guard_stdout() -> None:
    """Make every later write to stdout fail as :class:`OutputFailed` (the console script does this)."""
    if not isinstance(sys.stdout, _GuardedStdout):
        sys.stdout = cast(TextIO, _GuardedStdout(sys.stdout))


def is_terminal() -> bool:
    """True when stdout is an interactive terminal (progress and colour allowed)."""
    return sys.stdout.isatty()


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()  # a full disk or a closed pipe is reported here, by the command that wrote


def emit_json(document: Any) -> None:
    """The one JSON document a ``--json`` command prints on stdout."""
    _emit(json.dumps(document, indent=2, default=str) + "\n")


def _diagnostic(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr is gone: nowhere left to say it
        sys.stderr.write(line)
        sys.stderr.flush()


def error(message: str) -> None:
    """One line on stderr for an expected failure."""
    _diagnostic(f"snoozebot: error: {one_line(message)}\n")


def info(message: str) -> None:
    """A diagnostic line on stderr (never on stdout, which belongs to results)."""
    _diagnostic(f"{one_line(message)}\n")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout: rich on a terminal; plain aligned columns in pipes and files."""
    cells = [["" if cell is None else one_line(str(cell)) for cell in row] for row in rows]
    if not is_terminal():
        widths = [max(len(c) for c in column) for column in zip(columns, *cells, strict=False)]
        lines = [title] if title else []
        for row in [list(columns), *cells]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip())
        _emit("\n".join(lines) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=title, pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in cells:
        grid.add_row(*(Text(cell) for cell in row))  # Text: a cell's "[...]" is not rich markup
    Console().print(grid)
    sys.stdout.flush()

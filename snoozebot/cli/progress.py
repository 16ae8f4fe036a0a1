"""Live progress for people at a terminal; nothing at all for scripts and cron.

Progress is drawn on stderr, and only when both stdout and stderr are
terminals: a pipe, a file or ``--json`` consumer never sees it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["Progress", "progress"]


def _interactive() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


class Progress:
    """A bar with a description; every method is a no-op when not interactive."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    @property
    def visible(self) -> bool:
        """True when a bar is actually drawn (a terminal)."""
        return self._bar is not None

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more items done."""
        if self._bar is not None:
            self._bar.update(self._task, advance=steps)

    def describe(self, text: str) -> None:
        """Replace the description (e.g. what is still being waited for)."""
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def reset(self, text: str, total: int) -> None:
        """Start over with a new description and total."""
        if self._bar is not None:
            self._bar.reset(self._task, description=text, total=total)


@contextlib.contextmanager
def progress(text: str, total: int, *, enabled: bool = True) -> Iterator[Progress]:
    """A transient progress bar on stderr while the block runs (terminal only)."""
    if not (enabled and _interactive()):
        yield Progress()
        return
    from rich.console import Console  # only on a terminal
    from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        yield Progress(bar, bar.add_task(text, total=total))

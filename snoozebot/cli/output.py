"""Writing results: JSON for scripts, rich tables for people, one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["emit_json", "error", "info", "is_terminal", "table"]


def is_terminal() -> bool:
    """True when stdout is an interactive terminal (progress and colour allowed)."""
    return sys.stdout.isatty()


def emit_json(document: Any) -> None:
    """The one JSON document a ``--json`` command prints on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def error(message: str) -> None:
    """One line on stderr for an expected failure."""
    sys.stderr.write(f"snoozebot: error: {message}\n")


def info(message: str) -> None:
    """A diagnostic line on stderr (never on stdout, which belongs to results)."""
    sys.stderr.write(f"{message}\n")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout: rich on a terminal; plain aligned columns in pipes and files."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    if not is_terminal():
        widths = [max(len(c) for c in column) for column in zip(columns, *cells, strict=False)]
        lines = [title] if title else []
        for row in [list(columns), *cells]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip())
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    grid = Table(title=title, pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in cells:
        grid.add_row(*row)
    Console().print(grid)

"""docs/architecture.md's module table names every module under snoozebot/, each with its job, and no other."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "| module | its one job |"


def _table() -> dict[str, str]:
    """The module table's rows: path -> job."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert text.count(HEADER) == 1, f"docs/architecture.md must hold one table headed {HEADER!r}"
    lines = text.split(HEADER, 1)[1].splitlines()[2:]
    rows: dict[str, str] = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 2, f"a module row has two cells: {line!r}"
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        assert match, f"a module cell is one `path`: {line!r}"
        assert match[1] not in rows, f"{match[1]} is listed twice"
        rows[match[1]] = cells[1]
    return rows


def _modules() -> set[str]:
    """Every module under snoozebot/, packages' __init__ left out."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "snoozebot").rglob("*.py")
        if path.name != "__init__.py"
    }


def test_every_module_is_in_the_table() -> None:
    missing = sorted(_modules() - set(_table()))
    assert missing == [], f"add these to the module table of docs/architecture.md: {missing}"


def test_the_table_names_only_modules_that_exist() -> None:
    stale = sorted(set(_table()) - _modules())
    assert stale == [], f"docs/architecture.md's module table names what is not a module: {stale}"


def test_every_module_has_its_job() -> None:
    assert [path for path, job in _table().items() if not job] == []

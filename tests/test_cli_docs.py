"""docs/cli.md is the CLI's own --help output: it fails when either drifts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator():  # scripts/ is not a package: load the generator by path
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_the_cli() -> None:
    expected = _generator().render()
    actual = (ROOT / "docs" / "cli.md").read_text()
    assert actual == expected, "docs/cli.md is stale: run .venv/bin/python scripts/gen_cli_docs.py"


def test_every_command_has_an_example() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    sections = text.split("\n## snoozebot ")[1:]
    leaves = [s for s in sections if "Commands ─" not in s]
    assert leaves
    missing = [s.splitlines()[0] for s in leaves if "Example" not in s]
    assert missing == [], f"commands whose --help has no example: {missing}"

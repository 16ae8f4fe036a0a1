"""Write docs/cli.md from the CLI's own --help output (run after changing a command).

tests/test_cli_docs.py fails when docs/cli.md and the CLI disagree.
Usage: .venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
HEADER = """# CLI reference

Generated from `snoozebot ... --help` by `scripts/gen_cli_docs.py`; a test keeps it
in step with the code. Common to provider commands: `-o/--option KEY=VALUE`,
`--config FILE`, `--timeout SECONDS`. Exit codes: 0 ok, 1 an operation failed,
2 bad usage or input, 3 a required component is unavailable (a plugin, the agent,
or the state directory), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). What
`--json` prints and what each exit code means: [json.md](json.md).
"""


def _commands() -> list[list[str]]:
    import typer.main

    from snoozebot.cli.app import build_app

    root = typer.main.get_command(build_app())
    paths: list[list[str]] = [[]]

    def walk(command: object, path: list[str]) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths.append([*path, name])
            walk(sub, [*path, name])

    walk(root, [])
    return paths


def render() -> str:
    """The whole of docs/cli.md."""
    os.environ.update({"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"})
    from typer.testing import CliRunner

    from snoozebot.cli.app import build_app

    runner = CliRunner()
    parts = [HEADER]
    for path in _commands():
        result = runner.invoke(
            build_app(), [*path, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
        )
        text = "\n".join(line.rstrip() for line in result.output.splitlines()).strip("\n")
        parts.append(f"## snoozebot {' '.join(path)}".rstrip() + f"\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    DOC.write_text(render())
    sys.stdout.write(f"wrote {DOC}\n")

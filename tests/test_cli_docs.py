"""docs/cli.md is the CLI's own --help output, docs/json.md its JSON and exit codes: it fails when either drifts."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from conftest import doc_table

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


def _rows(section: str) -> list[str]:
    """The table rows of one command's --help, without the box's borders."""
    return [line.strip("│ ").rstrip("│ ") for line in section.splitlines() if line.startswith("│")]


def test_flags_and_arguments_show_no_type_placeholder() -> None:
    """A flag takes no value and an argument is named by its metavar: no type after either."""
    import typer.main

    from snoozebot.cli.app import build_app

    text = _generator().render()
    root = typer.main.get_command(build_app())
    sections = {s.splitlines()[0].strip(): s for s in text.split("\n## snoozebot")[1:]}
    checked = 0

    def visit(command: object, path: list[str]) -> None:
        nonlocal checked
        section = sections[" ".join(path)]
        for param in getattr(command, "params", []):
            if not getattr(param, "is_flag", False) or not param.help:
                continue
            longest = max(param.opts, key=len)
            [row] = [r for r in _rows(section) if r.lstrip("* ").startswith(f"{longest} ")]
            names = row.lstrip("* ").split(param.help.split()[0], 1)[0].split()
            assert set(names) <= set(param.opts) | set(param.secondary_opts), (
                f"snoozebot {' '.join(path)}: {longest} shows a metavar: {row!r}"
            )
            checked += 1
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, [*path, name])

    visit(root, [])
    assert checked > 20  # --json, --dry-run, --wait, ... on many commands
    assert "<bool>" not in text  # nor on --help's own row
    arguments = [
        row
        for section in sections.values()
        if "─ Arguments ─" in section
        for row in _rows(section.split("─ Arguments ─", 1)[1].split("╰", 1)[0])
    ]
    assert len(arguments) > 10
    assert [row for row in arguments if "<" in row] == []  # `ID...`, not `ID...  <list[str]>`


def test_ids_argument_reads_id_dots_in_the_real_cli(cli: Any) -> None:
    result = cli("instance", "stop", "--help", env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    assert result.returncode == 0
    assert "Usage: snoozebot instance stop [OPTIONS] [ID...]" in result.stdout  # ids optional with --filter
    [hibernate] = [r for r in _rows(result.stdout) if r.startswith("--hibernate")]
    assert hibernate.split()[:2] == ["--hibernate", "Hibernate"]


def test_exit_codes_page_matches_the_code() -> None:
    from snoozebot import errors

    documented = {int(row[0]) for row in doc_table("json.md", "Exit codes")}
    exit_codes = {getattr(errors, name) for name in errors.__all__ if name.startswith("EXIT_")}
    assert documented == exit_codes and errors.EXIT_TERMINATED in documented


def _documented_fields(command: str) -> set[str]:
    [row] = [r for r in doc_table("json.md", "Documents") if f"`{command}`" in r[0]]
    return {field.strip().strip("`") for field in row[2].split(",")}


def test_json_documents_have_exactly_the_documented_fields(cli: Any) -> None:
    """The real command's --json output, against the field lists in docs/json.md."""
    listed = cli("plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [memory] = [p for p in listed.json() if p["name"] == "memory"]
    assert set(memory) == _documented_fields("plugins list")

    info = cli("plugins", "info", "memory", "--json")
    assert info.returncode == 0, info.stderr
    assert set(info.json()) == _documented_fields("plugins list")

    instances = cli("instance", "list", "-p", "memory", "--json")
    assert instances.returncode == 0, instances.stderr
    assert {frozenset(i) for i in instances.json()} == {frozenset(_documented_fields("instance list"))}
    one = cli("instance", "info", "mem-0", "-p", "memory", "--json")
    assert one.returncode == 0, one.stderr
    assert set(one.json()) == _documented_fields("instance info")

    stopped = cli("instance", "stop", "mem-0", "no-such-id", "-p", "memory", "--json")
    assert stopped.returncode == 1  # one of two failed: exit 1, the other still stopped
    ok, failed = stopped.json()
    assert set(ok) == set(failed) == _documented_fields("instance stop")
    assert (ok["ok"], ok["error"], failed["ok"], set(failed["error"])) == (True, None, False, {"code", "message"})

    history = cli("history", "--json")
    assert history.returncode == 0, history.stderr
    assert {frozenset(a) for a in history.json()} == {frozenset(_documented_fields("history"))}
